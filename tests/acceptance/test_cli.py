"""The CLI as a user runs it: real subprocesses, no terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    return tmp_path / "cli.db"


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


def test_validate_names_the_unresolvable_document_handlers(db, shared) -> None:
    """Until the document pipeline exists, its handlers are reported as unresolvable."""
    result = segue("validate", str(shared / "examples/doc_ingest.yaml"), db=db)
    assert result.returncode == 1
    assert "segue.docs.handlers:ingest" in result.stdout


def test_graph_prints_mermaid_and_dot(db, shared) -> None:
    """`segue graph` draws the DAG."""
    mermaid = segue("graph", str(shared / "examples/fan_in.yaml"), db=db)
    assert mermaid.returncode == 0 and "start --> left" in mermaid.stdout
    dot = segue("graph", "-f", "dot", str(shared / "examples/fan_in.yaml"), db=db)
    assert "start -> left;" in dot.stdout


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
