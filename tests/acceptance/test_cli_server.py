"""The CLI against a server: `segue serve` in a subprocess, commands with `--server`.

Every command prints what it prints against a local database (the task view from
a server has `allowed_actions` and `can_answer` on top); errors are the same one
sentence, with exit code 1 for the caller's mistakes and 3 for an unreachable server.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from segue.api.auth import hash_token
from tests.conftest import FIXTURES, REPO
from tests.support.server import free_port, served

pytestmark = pytest.mark.slow

FAN_IN = FIXTURES / "examples" / "fan_in.yaml"
ADMIN, VIEWER = "admin-token", "viewer-token"
SERVER_ONLY = {"allowed_actions", "can_answer"}


def environment(**extra: str) -> dict[str, str]:
    """This process's environment without SEGUE_* (the tests set what they need)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEGUE_")}
    return {**env, "PYTHONPATH": str(REPO), **extra}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`segue serve` on a free loopback port, with tokens; stopped (and reaped) at the end."""
    folder = tmp_path_factory.mktemp("server")
    tokens = folder / "tokens.yaml"
    entries = [
        {"name": "root", "role": "admin", "sha256": hash_token(ADMIN)},
        {"name": "victor", "role": "viewer", "sha256": hash_token(VIEWER)},
    ]
    tokens.write_text(json.dumps({"tokens": entries}))
    database = f"sqlite:///{folder / 'served.db'}"
    flags = ("--pipelines", str(FAN_IN), "--tokens-file", str(tokens))
    log = folder / "server.log"
    with served(database, *flags, log=log, env=environment()) as (url, proc):
        yield url
    # uvicorn shuts down gracefully, then re-raises the signal it caught
    assert proc.returncode in (0, -signal.SIGTERM), log.read_text()
    assert not Path(f"/proc/{proc.pid}").exists(), "the server process was not reaped"


def segue(
    *args: str, server: str | None = None, token: str | None = ADMIN, db: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI: against ``server`` (token from SEGUE_TOKEN), else the database ``db``."""
    extra = {"SEGUE_TOKEN": token} if token else {}
    if db is not None:
        extra["SEGUE_DATABASE_URL"] = f"sqlite:///{db}"
    flags = ["--server", server] if server else []
    return subprocess.run(
        [sys.executable, "-m", "segue.cli.main", *flags, *args],
        capture_output=True,
        text=True,
        env=environment(**extra),
        cwd=REPO,
        timeout=60,
        check=False,
    )


def as_json(result: subprocess.CompletedProcess[str]) -> object:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def same_shape(remote: object, local: object) -> None:
    """The same keys at every level (lists by their first item), but for the server's extras."""
    if isinstance(local, dict):
        assert isinstance(remote, dict)
        assert set(remote) - SERVER_ONLY == set(local), (set(remote), set(local))
        for key, value in local.items():
            same_shape(remote[key], value)
    elif isinstance(local, list) and local:
        assert isinstance(remote, list) and remote
        same_shape(remote[0], local[0])
    else:
        assert isinstance(remote, type(local)) or local is None or remote is None


def run_to_review(**where: object) -> dict:
    view = as_json(segue("run", str(FAN_IN), "-c", "with_review=true", "--json", **where))
    assert isinstance(view, dict)
    return view


def test_run_advance_and_show_print_what_local_mode_prints(server, tmp_path) -> None:
    """`run` stops at the wait step, `advance` finishes the task on the server's workers."""
    local_db = tmp_path / "local.db"
    remote, local = run_to_review(server=server), run_to_review(db=local_db)
    assert (remote["status"], remote["current_step"]) == ("WAITING_USER", "review")
    assert remote["required_input"]["schema"]["required"] == ["approved"]
    assert remote["allowed_actions"] == ["advance", "cancel", "rerun", "fork", "skip", "migrate"]
    same_shape(remote, local)
    answer = tmp_path / "answer.json"
    answer.write_text('{"approved": true}')
    advance = ("review", "--input", f"@{answer}", "--json")
    done = as_json(segue("advance", remote["id"], *advance, server=server))
    local_done = as_json(segue("advance", local["id"], *advance, db=local_db))
    assert isinstance(done, dict) and done["status"] == "COMPLETED"
    same_shape(done, local_done)
    shown = as_json(segue("tasks", "show", remote["id"], "--json", server=server))
    local_shown = as_json(segue("tasks", "show", local["id"], "--json", db=local_db))
    assert isinstance(shown, dict) and isinstance(local_shown, dict)
    assert {a["step"] for a in shown["artifacts"]} == {a["step"] for a in local_shown["artifacts"]}
    assert [e["type"] for e in shown["events"]][-1] == "task_completed"
    assert shown["events"][0]["actor"] == "root"
    for key in ("artifacts", "events"):
        assert set(shown[key][0]) >= set(local_shown[key][0])
    human = segue("tasks", "show", remote["id"], server=server)
    assert human.returncode == 0 and "COMPLETED" in human.stdout
    assert "task_completed" in human.stdout and "artifacts" in human.stdout


def test_run_with_input_answers_the_wait_step_on_the_server(server) -> None:
    """`--input step={json}` answers the wait step as it opens; the human output ends done."""
    result = segue(
        "run", str(FAN_IN), "-c", "with_review=true", "--input", 'review={"approved": false}',
        server=server,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "COMPLETED" in result.stdout and "join" in result.stdout


def test_advance_without_waiting_returns_at_once(server) -> None:
    """`--no-run` prints the view the server answered, without polling for the end."""
    view = run_to_review(server=server)
    answer = ("review", "--input", '{"approved": true}', "--no-run", "--json")
    after = as_json(segue("advance", view["id"], *answer, server=server))
    assert isinstance(after, dict) and after["revision"] > view["revision"]


def test_tasks_list_and_events_match_the_local_shapes(server, tmp_path) -> None:
    """`tasks list` pages with --cursor; `events --after` skips what was seen."""
    local_db = tmp_path / "local.db"
    first, second = run_to_review(server=server), run_to_review(server=server)
    local = run_to_review(db=local_db)
    page = as_json(segue("tasks", "list", "--limit", "1", "--json", server=server))
    local_page = as_json(segue("tasks", "list", "--json", db=local_db))
    assert isinstance(page, dict) and isinstance(local_page, dict)
    assert [t["id"] for t in page["tasks"]] == [second["id"]]
    same_shape(page, local_page | {"next_cursor": page["next_cursor"]})
    cursor = page["next_cursor"]
    more = as_json(
        segue("tasks", "list", "--limit", "1", "--cursor", cursor, "--json", server=server)
    )
    assert isinstance(more, dict) and [t["id"] for t in more["tasks"]] == [first["id"]]
    waiting = as_json(segue("tasks", "list", "--status", "waiting_user", "--json", server=server))
    assert isinstance(waiting, dict)
    assert {first["id"], second["id"]} <= {t["id"] for t in waiting["tasks"]}
    human = segue("tasks", "list", "--limit", "1", server=server)
    assert second["id"] in human.stdout and "WAITING_USER" in human.stdout
    assert f"more: segue --server {server} tasks list --limit 1 --cursor {cursor}" in human.stdout
    events = as_json(segue("events", first["id"], "--json", server=server))
    local_events = as_json(segue("events", local["id"], "--json", db=local_db))
    assert isinstance(events, list) and isinstance(local_events, list)
    same_shape(events, local_events)
    later = as_json(segue("events", first["id"], "--after", "3", "--json", server=server))
    assert later == events[3:]
    table = segue("events", first["id"], server=server)
    assert "task_created" in table.stdout and "step_waiting" in table.stdout


def test_pipelines_register_and_list_go_to_the_server(server) -> None:
    """`pipelines register` says it knows the version; `pipelines list` shows it."""
    again = segue("pipelines", "register", str(FAN_IN), server=server)
    assert again.returncode == 0, again.stderr
    assert "already registered: fan_in v1" in again.stdout
    rows = as_json(segue("pipelines", "list", "--json", server=server))
    assert isinstance(rows, list)  # the shipped doc_ingest is registered by serve itself
    assert sorted((r["pipeline"], r["version"]) for r in rows) == [("doc_ingest", 1), ("fan_in", 1)]


def test_a_token_comes_from_the_flag_or_the_environment(server) -> None:
    """No token: 401 as one sentence; a viewer's --token may read but not answer."""
    view = run_to_review(server=server)
    anonymous = segue("tasks", "list", server=server, token=None)
    assert anonymous.returncode == 1
    assert "needs a bearer token" in anonymous.stderr
    viewer = ["--server", server, "--token", VIEWER]
    read = segue(*viewer, "tasks", "show", view["id"], "--json", token=None)
    assert as_json(read)["allowed_actions"] == []  # type: ignore[index]
    write = segue(*viewer, "advance", view["id"], "review", "--input", "{}", token=None)
    assert write.returncode == 1 and "may not answer wait steps" in write.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tasks", "show", "no-such-task"], "No task has id 'no-such-task'."),
        (["events", "no-such-task"], "No task has id 'no-such-task'."),
        (["advance", "no-such-task", "s", "--input", "{}"], "No task has id 'no-such-task'."),
        (["tasks", "list", "--status", "DONE"], "unknown status 'DONE'"),
        (["tasks", "list", "--cursor", "%%%"], "/cursor: "),
        (["run", str(FIXTURES / "examples/invalid/cycle.yaml")], "cycle.yaml:"),
    ],
)
def test_errors_are_one_sentence_and_exit_1(server, args, message) -> None:
    """A mistake of the caller's is exit 1 with the same sentence as locally, no traceback."""
    result = segue(*args, server=server)
    assert result.returncode == 1, result.stderr
    assert message in result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr


def test_bad_input_and_a_stale_step_are_refused_with_their_reasons(server) -> None:
    """The violation's pointer and the step the task waits for, as in local mode."""
    view = run_to_review(server=server)
    wrong = segue("advance", view["id"], "review", "--input", '{"approved": "yes"}', server=server)
    assert wrong.returncode == 1 and "/approved" in wrong.stderr
    stale = segue("advance", view["id"], "start", "--input", "{}", server=server)
    assert stale.returncode == 1 and "not waiting for input" in stale.stderr
    assert "waits for 'review'" in stale.stderr


def test_an_unreachable_server_is_exit_3() -> None:
    """Nothing listening (or no http:// in the URL): exit 3 and one plain sentence."""
    url = f"http://127.0.0.1:{free_port()}"
    down = segue("tasks", "list", server=url)
    assert down.returncode == 3
    assert down.stderr.startswith(f"error: cannot reach the Segue server at {url}: ")
    assert "Traceback" not in down.stderr
    bad = segue("tasks", "list", server="localhost:8000")
    assert bad.returncode == 3 and "must start with http:// or https://" in bad.stderr


def test_serve_on_port_0_prints_the_port_it_got_and_a_taken_port_is_one_sentence(
    tmp_path: Path,
) -> None:
    """--port 0 lets the system choose, and the line says which; that port is then taken."""
    database = f"sqlite:///{tmp_path / 'p.db'}"
    command = [sys.executable, "-m", "segue.cli.main", "--database-url", database, "serve"]
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [*command, "--port", "0"], stdout=sink, stderr=sink, env=environment(), cwd=REPO
        )
    try:
        deadline = time.monotonic() + 30
        while not (found := re.search(r"serving http://127\.0\.0\.1:(\d+) ", log.read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        port = int(found.group(1))
        assert port != 0
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        taken = segue("serve", "--port", str(port), db=tmp_path / "other.db")
        assert taken.returncode == 3, taken.stderr
        assert f"cannot listen on 127.0.0.1:{port}: Address already in use." in taken.stderr
        assert not (tmp_path / "other.db").exists()  # refused before the database was touched
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ('{"approved": NaN}', "it holds NaN or an infinite number, which JSON cannot hold"),
        ('{"approved": 1e999}', "it holds NaN or an infinite number, which JSON cannot hold"),
        ('{"approved": "\\ud800"}', "it holds a lone surrogate (\\ud800), which is not text"),
        (
            '{"approved": true, "approved": false}',
            'the name "approved" appears twice in one object',
        ),
    ],
)
def test_input_that_parses_but_is_not_json_is_one_sentence(server, value, why) -> None:
    """Python's parser takes NaN, 1e999 and escaped lone surrogates; the CLI refuses them
    before they reach the server's client (which could not send them)."""
    view = run_to_review(server=server)
    result = segue("advance", view["id"], "review", "--input", value, server=server)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == f"error: the input is not valid JSON: {why}."


def test_arguments_that_are_not_utf8_are_refused_by_name(server) -> None:
    """Bytes the shell passes that are not UTF-8: a --reason is a usage error (exit 2), an
    --input the caller's mistake (exit 1); nothing changes."""
    view = run_to_review(server=server)

    def raw_segue(*args: bytes) -> subprocess.CompletedProcess[bytes]:
        command = [sys.executable, "-m", "segue.cli.main", "--server", server]
        return subprocess.run(
            [*map(os.fsencode, command), *args],
            capture_output=True,
            env=environment(SEGUE_TOKEN=ADMIN),
            cwd=REPO,
            timeout=60,
            check=False,
        )

    task = view["id"].encode()
    reason = raw_segue(b"cancel", task, b"--reason", b"\xff")
    assert reason.returncode == 2, reason.stderr
    assert b"it is not UTF-8 text" in reason.stderr and b"Traceback" not in reason.stderr
    answer = raw_segue(b"advance", task, b"review", b"--input", b'{"approved": "\xed\xa0\x80"}')
    assert answer.returncode == 1, answer.stderr
    assert answer.stderr.strip() == b"error: the input is not UTF-8 text."
    shown = as_json(segue("tasks", "show", view["id"], "--json", server=server))
    assert isinstance(shown, dict) and shown["status"] == "WAITING_USER"
