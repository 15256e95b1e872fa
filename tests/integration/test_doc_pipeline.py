"""The document pipeline end to end on the embedded engine, on real documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from segue import Segue
from segue.docs.search import search
from segue.errors import InputInvalid
from tests.support.documents import corpus_files, document, start_document


def sample(name: str) -> bytes:
    return document(name).read_bytes()


def artifacts(engine: Segue, view: dict[str, Any]) -> dict[str, Any]:
    return engine.artifacts(view["id"])


def test_a_person_edits_the_drafted_outline_and_the_sections_follow_it(engine: Segue) -> None:
    view = start_document(engine, sample("pep-0008.rst"), "pep-0008.rst")
    assert view["status"] == "WAITING_USER"
    required = view["required_input"]
    assert required["step"] == "directory_confirm"
    draft = required["prefill"]["directory"]
    titles = [e["title"] for e in draft]
    assert "Code Lay-out" in titles and "Naming Conventions" in titles
    assert draft == artifacts(engine, view)["abstract"]["directory"]

    edited = [dict(e) for e in draft if e["title"] != "Introduction"]  # one removed
    naming = next(e for e in edited if e["title"] == "Naming Conventions")
    naming["title"] = "How to name things"  # one renamed (its anchor still finds it)
    view = engine.advance(view["id"], "directory_confirm", {"directory": edited})
    assert view["status"] == "COMPLETED"

    found = artifacts(engine, view)
    sections = found["directory_parse"]["sections"]
    assert [s["title"] for s in sections] == [e["title"] for e in edited]
    assert found["directory_parse"]["source"] == "confirmed"
    renamed = next(s for s in sections if s["title"] == "How to name things")
    assert renamed["text"].startswith("Naming Conventions")
    assert found["embed"]["count"] == len(sections)

    hits = search(found, engine.service.read_file, "How to name things", 3)
    assert hits[0]["title"] == "How to name things"
    hits = search(found, engine.service.read_file, "tabs or spaces indentation", 3)
    assert any("Indentation" in h["title"] or "Tabs or Spaces" in h["title"] for h in hits)


def test_auto_confirm_skips_the_person_and_splits_by_the_draft(engine: Segue) -> None:
    view = start_document(
        engine, sample("keep-a-changelog-CHANGELOG.md"), "CHANGELOG.md", auto_confirm=True
    )
    assert view["status"] == "COMPLETED"
    steps = {s["id"]: s["status"] for s in view["steps"]}
    assert steps["directory_confirm"] == "SKIPPED"
    parsed = artifacts(engine, view)["directory_parse"]
    assert parsed["source"] == "draft"
    added = [s for s in parsed["sections"] if s["title"] == "Added"]
    assert len(added) >= 10  # duplicates each get their own section, by position
    assert len({s["start"] for s in added}) == len(added)
    assert all(s["path"] for s in added)  # under their version heading


def test_a_bad_answer_is_rejected_and_changes_nothing(engine: Segue) -> None:
    view = start_document(engine, sample("pep-0008.rst"), "pep-0008.rst")
    with pytest.raises(InputInvalid) as caught:
        engine.advance(view["id"], "directory_confirm", {"directory": [{"title": "", "level": 9}]})
    pointers = {v.pointer for v in caught.value.violations}
    assert {"/directory/0/title", "/directory/0/level"} <= pointers
    assert engine.get(view["id"])["revision"] == view["revision"]


def test_entries_that_are_not_in_the_text_are_listed_and_none_found_fails(engine: Segue) -> None:
    view = start_document(engine, sample("pep-0008.rst"), "pep-0008.rst")
    answer = {
        "directory": [{"title": "Code Lay-out", "level": 1}, {"title": "Nowhere", "level": 1}]
    }
    done = engine.advance(view["id"], "directory_confirm", answer)
    parsed = artifacts(engine, done)["directory_parse"]
    assert [s["title"] for s in parsed["sections"]] == ["Code Lay-out"]
    assert parsed["unlocated"] == [{"index": 1, "title": "Nowhere"}]

    other = start_document(engine, sample("pep-0008.rst"), "pep-0008.rst")
    failed = engine.advance(
        other["id"], "directory_confirm", {"directory": [{"title": "Nowhere", "level": 1}]}
    )
    assert failed["status"] == "FAILED"
    step = next(s for s in failed["steps"] if s["id"] == "directory_parse")
    assert "could be found" in step["error"]["message"] and "'Nowhere'" in step["error"]["message"]
    assert step["attempt"] == 1  # permanent: not retried


def test_a_chinese_gbk_text_file_reads_and_splits(engine: Segue) -> None:
    text = "第一章 总则\n\n本办法适用于全体员工。\n\n第二章 考勤\n\n上班时间为九点。\n"
    view = start_document(engine, text.encode("gbk"), "规定.txt", auto_confirm=True)
    assert view["status"] == "COMPLETED"
    found = artifacts(engine, view)
    assert found["upload"]["text"]["encoding"] in ("gb18030", "gbk", "gb2312")
    titles = [s["title"] for s in found["directory_parse"]["sections"]]
    assert titles == ["第一章 总则", "第二章 考勤"]
    hits = search(found, engine.service.read_file, "考勤", 1)
    assert hits[0]["title"] == "第二章 考勤"


def test_a_document_without_headings_is_offered_as_one_section(engine: Segue) -> None:
    text = "Just a note.\nWith two lines and no headings at all, ending with a period.\n"
    view = start_document(engine, text.encode(), "note.txt")
    draft = view["required_input"]["prefill"]["directory"]
    assert draft == [{"title": "note", "level": 1, "anchor": "Just a note."}]
    done = engine.advance(view["id"], "directory_confirm", {"directory": draft})
    sections = artifacts(engine, done)["directory_parse"]["sections"]
    assert len(sections) == 1 and sections[0]["text"] == text


@pytest.mark.parametrize(
    ("data", "name", "says"),
    [
        (b"", "empty.md", "empty"),
        (b"%PDF-1.4\n%junk", "report.md", "PDF"),
        (bytes(range(256)) * 8, "blob.txt", "binary"),
        (b"PK\x03\x04" + b"\x00" * 40, "sheet.xlsx", "xlsx"),
    ],
)
def test_a_file_that_cannot_be_read_fails_its_step_once_with_a_sentence(
    engine: Segue, data: bytes, name: str, says: str
) -> None:
    view = start_document(engine, data, name)
    assert view["status"] == "FAILED"
    upload = next(s for s in view["steps"] if s["id"] == "upload")
    assert upload["attempt"] == 1  # permanent: not retried
    assert name in upload["error"]["message"] and says in upload["error"]["message"]


def test_a_missing_upload_fails_with_what_to_do(engine: Segue) -> None:
    view = start_document(engine, b"x\n", "x.txt", auto_confirm=True)  # registers doc_ingest
    missing = {"sha256": "0" * 64, "filename": "gone.md"}
    failed = engine.start("doc_ingest", {"document": missing})
    upload = next(s for s in failed["steps"] if s["id"] == "upload")
    assert "No uploaded file has sha256" in upload["error"]["message"]
    assert view["status"] == "COMPLETED"


CORPUS = corpus_files()


@pytest.mark.skipif(not CORPUS, reason="the shared corpus is not beside the repository")
@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_every_corpus_document_completes_or_fails_its_upload_with_a_sentence(
    tmp_path: Path, path: Path
) -> None:
    with Segue(f"sqlite:///{tmp_path / 'db'}", blob_dir=tmp_path / "blobs") as engine:
        view = start_document(engine, path.read_bytes(), path.name, auto_confirm=True)
        assert view["status"] in ("COMPLETED", "FAILED")
        if view["status"] == "FAILED":
            upload = next(s for s in view["steps"] if s["id"] == "upload")
            assert upload["status"] == "FAILED" and path.name in upload["error"]["message"]
            assert upload["error"]["type"] == "DocumentError"
        else:
            found = engine.artifacts(view["id"])
            assert found["embed"]["count"] == len(found["directory_parse"]["sections"]) >= 1
