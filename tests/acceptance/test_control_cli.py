"""`segue rerun / skip / fork / tasks replay` as a user runs them (subprocesses, no terminal)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.acceptance.test_cli import segue
from tests.conftest import REPO

PIPELINE = REPO / "src" / "segue" / "pipelines" / "outline_review.yaml"
ANSWER = '{"directory": [{"title": "Intro", "level": 1}]}'


def finished(db: Path) -> dict:
    run = segue("run", str(PIPELINE), "--input", f"confirm={ANSWER}", "--json", db=db)
    assert run.returncode == 0, run.stderr
    view = json.loads(run.stdout)
    assert view["status"] == "COMPLETED"
    return view


def test_rerun_re_confirms_and_replay_shows_the_past(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    view = finished(db)
    again = segue("rerun", view["id"], "confirm", "--reason", "redo", "--json", db=db)
    assert again.returncode == 0, again.stderr
    waiting = json.loads(again.stdout)
    assert waiting["status"] == "WAITING_USER"
    assert waiting["required_input"]["prefill"] == json.loads(ANSWER)

    past = segue("tasks", "replay", view["id"], "--at", "1", "--json", db=db)
    assert past.returncode == 0, past.stderr
    assert json.loads(past.stdout)["event"]["type"] == "task_created"
    shown = segue("tasks", "replay", view["id"], "--at", "1", db=db)
    assert "after event 1 of" in shown.stdout
    missing = segue("tasks", "replay", view["id"], "--at", "999", db=db)
    assert missing.returncode == 1 and "there is no event 999" in missing.stderr

    done = segue("advance", view["id"], "confirm", "--input", ANSWER, "--json", db=db)
    assert json.loads(done.stdout)["status"] == "COMPLETED"


def test_fork_and_skip(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    view = finished(db)
    events = json.loads(segue("events", view["id"], "--json", db=db).stdout)
    waiting = next(e["seq"] for e in events if e["type"] == "step_waiting")
    forked = segue("fork", view["id"], "--at", str(waiting), "--json", db=db)
    assert forked.returncode == 0, forked.stderr
    new = json.loads(forked.stdout)
    assert new["id"] != view["id"] and new["status"] == "WAITING_USER"
    skipped = segue("skip", new["id"], "confirm", "--reason", "fine", "--json", db=db)
    assert skipped.returncode == 0, skipped.stderr
    assert json.loads(skipped.stdout)["status"] == "COMPLETED"
    bad = segue("skip", view["id"], "confirm", db=db)
    assert bad.returncode == 1 and "COMPLETED" in bad.stderr and "Traceback" not in bad.stderr


def test_pipelines_plan_and_migrate(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    run = segue("run", str(PIPELINE), "--json", db=db)
    task = json.loads(run.stdout)
    assert task["status"] == "WAITING_USER"
    newer = tmp_path / "v2.yaml"
    newer.write_text(PIPELINE.read_text().replace("version: 1", "version: 2"))
    planned = segue("pipelines", "plan", str(newer), db=db)
    assert planned.returncode == 0, planned.stderr
    assert "outline_review v2: 1 task of other versions in flight" in planned.stdout
    assert json.loads(segue("pipelines", "plan", str(newer), "--json", db=db).stdout)["groups"][0][
        "can_migrate"
    ]
    segue("pipelines", "register", str(newer), db=db)
    moved = segue("migrate", task["id"], "--to", "2", "--no-run", "--json", db=db)
    assert moved.returncode == 0, moved.stderr
    assert json.loads(moved.stdout)["version"] == 2
    bad = segue("migrate", task["id"], "--to", "2", "--map", "nonsense", db=db)
    assert bad.returncode == 2 and "is not old=new" in bad.stderr
