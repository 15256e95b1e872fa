"""The CLI as a user runs it: real subprocesses, no terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from segue import Segue
from tests.conftest import REPO


def segue(*args: str, db: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "SEGUE_DATABASE_URL": f"sqlite:///{db}"}
    return subprocess.run(
        [sys.executable, "-m", "segue.cli.main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
        check=False,
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A database file that exists (read-only commands refuse to create one)."""
    path = tmp_path / "cli.db"
    Segue(f"sqlite:///{path}").close()
    return path


def test_validate_accepts_a_good_file_and_names_every_problem_of_bad_ones(db, shared) -> None:
    """`segue validate` prints ok, or file:line:column and a sentence; exit 1 on any error."""
    good = segue("validate", str(shared / "examples/fan_in.yaml"), db=db)
    assert good.returncode == 0 and "ok" in good.stdout
    bad = segue(
        "validate",
        str(shared / "examples/invalid/typo_field.yaml"),
        str(shared / "examples/invalid/cycle.yaml"),
        db=db,
    )
    assert bad.returncode == 1
    assert (
        "typo_field.yaml:9:5: unknown field 'depend_on' (did you mean 'depends_on'?)" in bad.stdout
    )
    assert "dependency cycle: a -> b -> c -> a" in bad.stdout


def test_validate_checks_that_the_document_handlers_import(db, shared) -> None:
    """The shared doc_ingest example validates with its handlers resolved."""
    result = segue("validate", str(shared / "examples/doc_ingest.yaml"), db=db)
    assert result.returncode == 0, result.stdout
    assert "ok" in result.stdout


def test_graph_prints_mermaid_and_dot(db, shared) -> None:
    """`segue graph` draws the DAG."""
    mermaid = segue("graph", str(shared / "examples/fan_in.yaml"), db=db)
    assert mermaid.returncode == 0 and "start --> left" in mermaid.stdout
    dot = segue("graph", "-f", "dot", str(shared / "examples/fan_in.yaml"), db=db)
    assert "start -> left;" in dot.stdout
    svg = segue("graph", "-f", "svg", str(shared / "examples/fan_in.yaml"), db=db)
    assert svg.returncode == 2  # a usage error, as for any bad option
    assert "unknown format 'svg'; use mermaid or dot." in svg.stderr


def test_run_stops_at_a_wait_step_without_a_terminal_and_advance_finishes(
    db, shared, tmp_path
) -> None:
    """Without a terminal, `run` prints the waiting task; `advance` in a new process ends it."""
    run = segue(
        "run", str(shared / "examples/fan_in.yaml"), "-c", "with_review=true", "--json", db=db
    )
    assert run.returncode == 0, run.stderr
    view = json.loads(run.stdout)
    assert (view["status"], view["current_step"]) == ("WAITING_USER", "review")
    assert view["required_input"]["schema"]["required"] == ["approved"]
    answer = tmp_path / "answer.json"
    answer.write_text('{"approved": true}')
    done = segue("advance", view["id"], "review", "--input", f"@{answer}", "--json", db=db)
    assert json.loads(done.stdout)["status"] == "COMPLETED"
    shown = segue("tasks", "show", view["id"], "--json", db=db)
    body = json.loads(shown.stdout)
    assert body["status"] == "COMPLETED"
    assert {a["step"] for a in body["artifacts"]} == {"start", "left", "right", "review", "join"}
    assert body["events"][-1]["type"] == "task_completed"
    human = segue("tasks", "show", view["id"], db=db)
    assert "COMPLETED" in human.stdout and "task_completed" in human.stdout


def test_run_with_input_answers_the_wait_step(db, shared) -> None:
    """`--input step={json}` answers a wait step as it opens."""
    run = segue(
        "run",
        str(shared / "examples/fan_in.yaml"),
        "-c",
        "with_review=true",
        "--input",
        'review={"approved": false}',
        "--json",
        db=db,
    )
    assert json.loads(run.stdout)["status"] == "COMPLETED"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tasks", "show", "no-such-task"], "No task has id 'no-such-task'."),
        (["events", "no-such-task"], "No task has id 'no-such-task'."),
        (["advance", "no-such-task", "s", "--input", "{}"], "No task has id 'no-such-task'."),
        (["advance", "x", "s", "--input", "{not json"], "the input is not valid JSON"),
        (["advance", "x", "s", "--input", "@/no/such/file.json"], "cannot read"),
        (["tasks", "list", "--status", "DONE"], "unknown status 'DONE'"),
        (["validate", "/no/such/pipeline.yaml"], "cannot read the file"),
    ],
)
def test_errors_are_one_sentence_without_a_traceback(db, args, message) -> None:
    """Every bad input gets a clear error, a non-zero exit code and no traceback."""
    result = segue(*args, db=db)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert message in output
    assert "Traceback" not in output


def test_bad_config_and_bad_input_are_rejected_with_their_paths(db, shared) -> None:
    """Config and input that break their schemas name the JSON path of each violation."""
    bad_config = segue(
        "run", str(shared / "examples/fan_in.yaml"), "-c", "with_review=maybe", db=db
    )
    assert bad_config.returncode == 1
    assert "/with_review: 'maybe' is not of type 'boolean'" in bad_config.stderr
    run = segue(
        "run", str(shared / "examples/fan_in.yaml"), "-c", "with_review=true", "--json", db=db
    )
    task = json.loads(run.stdout)["id"]
    wrong = segue("advance", task, "review", "--input", '{"approved": "yes"}', db=db)
    assert wrong.returncode == 1 and "/approved" in wrong.stderr
    stale = segue("advance", task, "start", "--input", "{}", db=db)
    assert stale.returncode == 1 and "not waiting for input" in stale.stderr
    assert "the task waits for 'review'" in stale.stderr


def test_a_non_utf8_definition_is_rejected_clearly(db, tmp_path) -> None:
    """A definition in another encoding is refused with a plain sentence."""
    path = tmp_path / "latin1.yaml"
    path.write_bytes("pipeline: café\n".encode("latin-1"))
    result = segue("validate", str(path), db=db)
    assert result.returncode == 1 and "not UTF-8" in result.stdout


SLOW = """
pipeline: slow
version: 1
steps:
  - {id: a, type: auto, depends_on: [], run: segue.builtins:sleep, with: {seconds: 3}}
  - {id: b, type: auto, run: segue.builtins:passthrough}
"""


def test_sigterm_gives_the_lease_back_and_drive_goes_on_at_once(db, tmp_path) -> None:
    """An interrupted run says how to go on; `segue drive` re-runs the step without waiting."""
    import signal
    import time

    definition = tmp_path / "slow.yaml"
    definition.write_text(SLOW)
    env = {**os.environ, "PYTHONPATH": str(REPO), "SEGUE_DATABASE_URL": f"sqlite:///{db}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "segue.cli.main", "run", str(definition)],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2.0)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 143
    assert " drive " in stderr and "go on with: segue" in stderr
    task = json.loads(segue("tasks", "list", "--json", db=db).stdout)["tasks"][0]["id"]
    assert f" drive {task}" in stderr
    started = time.monotonic()
    drive = segue("drive", task, "--json", db=db)
    assert json.loads(drive.stdout)["status"] == "COMPLETED"
    assert time.monotonic() - started < 20  # not the 30 s lease
    steps = {s["id"]: s for s in json.loads(drive.stdout)["steps"]}
    assert steps["a"]["attempt"] == 2


def test_retry_and_cancel_from_the_cli(db, tmp_path, counters) -> None:
    """`segue retry` resumes a FAILED task; `segue cancel` ends one; both refuse finished ones."""
    definition = tmp_path / "flaky.yaml"
    definition.write_text("""
pipeline: flaky
version: 1
steps:
  - {id: a, type: auto, depends_on: [], run: "tests.support.handlers:t", with: {ops: [{fail_while: BROKEN}]}}
  - {id: w, type: wait_user, input_schema: {type: object}}
""")
    (counters / "BROKEN").touch()
    failed = segue("run", str(definition), "--json", db=db)
    assert failed.returncode == 1 and json.loads(failed.stdout)["status"] == "FAILED"
    task = json.loads(failed.stdout)["id"]
    (counters / "BROKEN").unlink()
    retried = segue("retry", task, "--json", db=db)
    assert json.loads(retried.stdout)["status"] == "WAITING_USER"
    cancelled = segue("cancel", task, "--reason", "not needed", "--json", db=db)
    assert json.loads(cancelled.stdout)["status"] == "CANCELLED"
    again = segue("cancel", task, db=db)
    assert again.returncode == 1 and "CANCELLED" in again.stderr


def test_read_only_commands_do_not_create_a_database(db, tmp_path) -> None:
    """A mistyped database path is an error, not a new empty database."""
    missing = tmp_path / "nope" / "x.db"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "segue.cli.main",
            "--database-url",
            f"sqlite:///{missing}",
            "tasks",
            "list",
        ],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 3 and "there is no database" in result.stderr
    assert not missing.parent.exists()
    memory = segue("--database-url", "sqlite://", "tasks", "list", db=db)
    assert memory.returncode == 3 and "names no file" in memory.stderr


def test_run_checks_its_answers_before_starting_anything(db, shared) -> None:
    """--input for a step that is not a wait step, or that breaks its schema, starts no task."""
    fan_in = str(shared / "examples/fan_in.yaml")
    unknown = segue("run", fan_in, "-i", "nosuch={}", db=db)
    assert unknown.returncode == 1 and "not a wait step" in unknown.stderr
    wrong = segue("run", fan_in, "-c", "with_review=true", "-i", 'review={"approved": 3}', db=db)
    assert wrong.returncode == 1 and "/approved" in wrong.stderr
    assert json.loads(segue("tasks", "list", "--json", db=db).stdout)["tasks"] == []
