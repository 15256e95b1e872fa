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


def test_brackets_in_titles_names_and_ids_print_literally(tmp_path: Path) -> None:
    """Text that looks like rich markup ([/bold], [[packages]]) is shown as is, never a traceback."""
    doc = tmp_path / "[red]odd.txt"
    doc.write_text("1. Closing [/bold] tag\n\ntext\n\n2. The [[packages]] table\n\nmore\n")
    db = tmp_path / "b.db"
    shown = segue("docs", "outline", str(doc), db=db)
    assert shown.returncode == 0, shown.stderr
    assert "1. Closing [/bold] tag" in shown.stdout and "[[packages]]" in shown.stdout
    done = segue("docs", "ingest", str(doc), "--auto-confirm", db=db)
    assert done.returncode == 0, done.stderr
    assert "[red]odd.txt" in done.stdout and "Traceback" not in done.stderr
    missing = segue("tasks", "show", "[/x]", db=db)
    assert (
        missing.returncode == 1 and "[/x]" in missing.stderr and "Traceback" not in missing.stderr
    )


def test_the_hints_keep_the_database_and_prefill_prints_the_draft(tmp_path: Path) -> None:
    db = tmp_path / "hint.db"
    url = f"sqlite:///{db}"
    started = segue("--database-url", url, "docs", "ingest", str(PEP8), db=tmp_path / "other.db")
    assert started.returncode == 0, started.stderr
    assert f"segue --database-url {url} tasks prefill" in started.stdout
    task = json.loads(segue("tasks", "list", "--json", db=db).stdout)["tasks"][0]
    prefill = segue("tasks", "prefill", task["id"], db=db)
    assert prefill.returncode == 0, prefill.stderr
    assert json.loads(prefill.stdout) == task["required_input"]["prefill"]
    wrong = segue("tasks", "prefill", task["id"], "--step", "embed", db=db)
    assert wrong.returncode == 1 and "does not wait at 'embed'" in wrong.stderr


def test_outline_offers_a_document_without_headings_as_one_entry(tmp_path: Path) -> None:
    """`docs outline` runs the same drafting as the pipeline's abstract step."""
    note = tmp_path / "note.txt"
    note.write_text("Just one paragraph, no headings at all.\n")
    drafted = json.loads(segue("docs", "outline", str(note), "--json", db=tmp_path / "x.db").stdout)
    assert drafted["directory"] == [
        {"title": "note", "level": 1, "anchor": "Just one paragraph, no headings at all."}
    ]
