"""`segue docs` as a user runs it: real subprocesses on a real document, no terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.acceptance.test_cli import segue
from tests.conftest import REPO
from tests.support.documents import document

PEP8 = document("pep-0008.rst")


def test_outline_prints_the_draft_of_one_file(tmp_path: Path) -> None:
    shown = segue("docs", "outline", str(PEP8), db=tmp_path / "x.db")
    assert shown.returncode == 0, shown.stderr
    assert "Naming Conventions" in shown.stdout and "rst-structure" in shown.stdout
    as_json = json.loads(segue("docs", "outline", str(PEP8), "--json", db=tmp_path / "x.db").stdout)
    assert as_json["method"].startswith("rst")
    assert {k: v for k, v in as_json["directory"][2].items() if k != "anchor"} == {
        "title": "Code Lay-out",
        "level": 1,
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


EDITOR = """\
import os, pathlib, sys, yaml
path = pathlib.Path(sys.argv[1])
outline = yaml.safe_load(path.read_text(encoding="utf-8"))
marks = pathlib.Path(os.environ["SEGUE_TEST_MARKS"])
marks.write_text(marks.read_text() + "x" if marks.exists() else "x")
if len(marks.read_text()) == 1:      # first edit: a level the schema refuses
    outline["directory"][0]["level"] = 9
else:                                # second edit: rename one entry, delete another
    outline["directory"][0]["level"] = 1
    outline["directory"][0]["title"] = "Preface"
    del outline["directory"][1]
path.write_text(yaml.safe_dump(outline, allow_unicode=True), encoding="utf-8")
"""


def test_in_a_terminal_the_person_edits_the_outline_in_their_editor(tmp_path: Path) -> None:
    """`e` opens $EDITOR on the YAML; a refused edit shows the errors and opens it again."""
    editor = tmp_path / "edit.py"
    editor.write_text(EDITOR)
    marks = tmp_path / "marks"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "SEGUE_DATABASE_URL": f"sqlite:///{tmp_path / 'tty.db'}",
        "EDITOR": f"{sys.executable} {editor}",
        "SEGUE_TEST_MARKS": str(marks),
    }
    master, slave = os.openpty()
    command = [sys.executable, "-m", "segue.cli.main", "docs", "ingest", str(PEP8)]
    with subprocess.Popen(
        command, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO
    ) as proc:
        os.close(slave)
        os.write(master, b"e\n\n")  # edit; after the refusal, Enter edits again
        out, err = proc.communicate(timeout=90)
    os.close(master)
    assert proc.returncode == 0, err.decode()
    text, errors = out.decode(), err.decode()
    assert "/directory/0/level" in errors
    assert "Preface" in text and "COMPLETED" in text
    assert marks.read_text() == "xx"
