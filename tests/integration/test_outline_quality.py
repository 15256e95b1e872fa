"""Drafted outlines of real documents against hand-written expectations.

Each ``tests/fixtures/outlines/<document>.yaml`` was written by reading the document
(never by running the extractor). It states the expected outcome, the headings, the
level up to which the list is complete, and a floor for precision and recall. The
scoring (``tests/support/outline_score.py``) aligns expected and found headings as
sequences, so repeated titles count by position; ``bench/outline_quality.py`` prints
the same numbers as a table.

A document that is not present (the shared corpus lives outside the repository, at
``$SEGUE_CORPUS`` or ``<repo>/../shared/corpus``) is skipped.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from segue.docs.formats import read_document
from segue.docs.model import DocumentError
from segue.docs.outline import draft_outline
from tests.support.outline_score import (
    Expected,
    ExpectedHeading,
    corpus_dirs,
    expected_files,
    find_document,
    load_expected,
    normalize,
    score,
)

REPO = Path(__file__).resolve().parents[2]
DIRS = corpus_dirs(REPO)  # read at collection, before the autouse fixture clears SEGUE_*
FILES = expected_files()
CHANGELOG = "keep-a-changelog-CHANGELOG.md"


def _document(expected: Expected) -> Path:
    path = find_document(expected.document, DIRS)
    if path is None:
        pytest.skip(f"{expected.document} is not in {', '.join(map(str, DIRS))}")
    return path


def _changelog() -> Expected:
    return load_expected(next(f for f in FILES if f.name == f"{CHANGELOG}.yaml"))


def test_every_corpus_document_has_an_expected_outline() -> None:
    names = {load_expected(f).document for f in FILES}
    assert len(names) == len(FILES), "two expected files name the same document"
    assert len(FILES) >= 15


@pytest.mark.parametrize("file", FILES, ids=[f.name.removesuffix(".yaml") for f in FILES])
def test_outline_meets_its_floor(file: Path) -> None:
    """The outcome matches, and precision and recall at levels <= complete_to_level reach the floor."""
    expected = load_expected(file)
    data = _document(expected).read_bytes()
    if expected.outcome == "error":
        with pytest.raises(DocumentError) as info:
            draft_outline(read_document(data, expected.document))
        assert str(expected.error_contains).casefold() in str(info.value).casefold(), str(
            info.value
        )
        return
    outline = draft_outline(read_document(data, expected.document))
    result = score(expected, outline.headings)
    assert result.precision >= expected.floor_precision, result.explain()
    assert result.recall >= expected.floor_recall, result.explain()


def test_score_counts_repeated_titles_by_position() -> None:
    """Fourteen expected "Added" headings are fourteen headings: one found "Added" matches one."""
    expected = _changelog()
    perfect = score(expected, [(h.title, h.level) for h in expected.headings])
    assert (perfect.matched, perfect.precision, perfect.recall) == (49, 1.0, 1.0)

    one_added: list[tuple[str, int]] = []
    for h in expected.headings:
        if h.title != "Added" or not any(t == "Added" for t, _ in one_added):
            one_added.append((h.title, h.level))
    partial = score(expected, one_added)
    assert partial.matched == 49 - 13
    assert partial.missing.count("Added") == 13
    assert partial.precision == 1.0

    # The right titles in the wrong places (all releases first, then all change types)
    # would be perfect for a bag of titles; by position they fall below the floor.
    releases = [(h.title, h.level) for h in expected.headings if h.level <= 2]
    kinds = [(h.title, h.level) for h in expected.headings if h.level == 3]
    misplaced = score(expected, releases + kinds)
    assert misplaced.matched < 49
    assert misplaced.recall < expected.floor_recall, misplaced.explain()


def test_optional_headings_are_neither_missing_nor_extra() -> None:
    expected = Expected(
        document="x.pdf",
        outcome="outline",
        complete_to_level=2,
        headings=(ExpectedHeading("A Title", 1, optional=True), ExpectedHeading("Abstract", 1)),
    )
    assert score(expected, [("Abstract", 1)]).precision == 1.0
    with_title = score(expected, [("A title", 1), ("Abstract", 2)])
    assert (with_title.found_n, with_title.matched, with_title.precision) == (1, 1, 1.0)
    assert with_title.level_accuracy == 1.0  # the title's shift is undone
    deeper = Expected(
        document="y.pdf",
        outcome="outline",
        complete_to_level=2,
        headings=(
            ExpectedHeading("Title", 1, optional=True),
            ExpectedHeading("1 One", 1),
            ExpectedHeading("1.1 Sub", 2),
        ),
    )
    shifted = score(deeper, [("Title", 1), ("1 One", 2), ("1.1 Sub", 3)])
    assert (shifted.matched, shifted.recall, shifted.level_accuracy) == (2, 1.0, 1.0)
    flat = score(deeper, [("Title", 1), ("1 One", 1), ("1.1 Sub", 2)])
    assert (flat.matched, flat.level_accuracy) == (2, 1.0)
    nothing = score(expected, [])
    assert (nothing.precision, nothing.recall) == (0.0, 0.0)


def test_normalize_is_lenient_about_rendering_only() -> None:
    assert normalize("Diﬀerent  ﬂow") == normalize("different flow")  # ligatures, spaces
    assert normalize("1 安装 TEX Live") == normalize("1 安装TeX Live")  # CJK spacing, case
    assert normalize("**Added**:") == "added"
    assert normalize("CHAPTER I") != normalize("CHAPTER II")


def test_changelog_change_types_are_found_under_their_own_release() -> None:
    """Each repeated "### Added" / "### Changed" / ... is drafted in its own release's place."""
    expected = _changelog()
    data = _document(expected).read_bytes()
    outline = draft_outline(read_document(data, expected.document))

    def placed(headings: list[tuple[str, int]]) -> list[tuple[str, str]]:
        release, out = "", []
        for title, level in headings:
            if level == 2:
                release = normalize(title)
            elif level == 3:
                out.append((release, normalize(title)))
        return out

    want = placed([(h.title, h.level) for h in expected.headings])
    got = placed([(h.title, h.level) for h in outline.headings])
    assert len(want) == 31
    assert got == want
