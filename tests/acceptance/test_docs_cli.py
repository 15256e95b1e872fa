"""`segue docs` as a user runs it: real subprocesses on a real document, no terminal."""

from __future__ import annotations

import json
from pathlib import Path

from tests.acceptance.test_cli import segue
from tests.support.documents import document

PEP8 = document("pep-0008.rst")


def test_outline_prints_the_draft_of_one_file(tmp_path: Path) -> None:
    shown = segue("docs", "outline", str(PEP8), db=tmp_path / "x.db")
    assert shown.returncode == 0, shown.stderr
    assert "Naming Conventions" in shown.stdout and "rst-structure" in shown.stdout
    as_json = json.loads(segue("docs", "outline", str(PEP8), "--json", db=tmp_path / "x.db").stdout)
    assert as_json["method"].startswith("rst")
    assert {"title": "Code Lay-out", "level": 1} == {
        k: v for k, v in as_json["directory"][2].items() if k != "anchor"
    }


def test_outline_of_a_bad_file_is_one_sentence(tmp_path: Path) -> None:
    empty = tmp_path / "empty.md"
    empty.write_bytes(b"")
    result = segue("docs", "outline", str(empty), db=tmp_path / "x.db")
    assert result.returncode == 1
    assert "empty.md" in result.stderr and "Traceback" not in result.stderr
    missing = segue("docs", "outline", str(tmp_path / "nope.md"), db=tmp_path / "x.db")
    assert missing.returncode == 2 and "there is no file" in missing.stderr


def test_ingest_without_a_terminal_stops_at_the_confirm_step_and_advance_finishes_it(
    tmp_path: Path,
) -> None:
    db = tmp_path / "docs.db"
    started = segue("docs", "ingest", str(PEP8), db=db)
    assert started.returncode == 0, started.stderr
    assert "waits for a person to confirm its outline" in started.stdout
    listed = json.loads(segue("tasks", "list", "--json", db=db).stdout)["tasks"]
    task = listed[0]
    assert task["status"] == "WAITING_USER" and task["current_step"] == "directory_confirm"
    answer = tmp_path / "outline.json"
    answer.write_text(json.dumps(task["required_input"]["prefill"]))
    done = segue("advance", task["id"], "directory_confirm", "--input", f"@{answer}", db=db)
    assert done.returncode == 0, done.stderr
    hits = json.loads(segue("docs", "search", task["id"], "naming styles", "--json", db=db).stdout)
    assert hits and "Naming" in " ".join(h["title"] for h in hits)


def test_ingest_accept_draft_runs_to_the_end_and_prints_the_summary(tmp_path: Path) -> None:
    db = tmp_path / "docs.db"
    result = segue("docs", "ingest", str(PEP8), "--accept-draft", db=db)
    assert result.returncode == 0, result.stderr
    assert "Confirming the drafted outline unchanged" in result.stdout
    assert "sections" in result.stdout and "search" in result.stdout
    assert "COMPLETED" in result.stdout


def test_search_before_the_task_is_embedded_says_so(tmp_path: Path) -> None:
    db = tmp_path / "docs.db"
    segue("docs", "ingest", str(PEP8), db=db)
    task = json.loads(segue("tasks", "list", "--json", db=db).stdout)["tasks"][0]
    result = segue("docs", "search", task["id"], "anything", db=db)
    assert result.returncode == 1 and "no embedded sections yet" in result.stderr
