"""Splitting a text by its final outline: anchors, loose titles, duplicates, order."""

from __future__ import annotations

import pytest

from segue.docs.split import split_text, title_key

TEXT = """Preface line.

# 1 Introduction
Intro text.

## 1.1 Scope
Scope text.

### Added
first added

# 2 Changes
### Added
second added

### Fixed
fixed text
"""


def entry(title: str, level: int = 1, anchor: str | None = None) -> dict[str, object]:
    return {"title": title, "level": level, **({"anchor": anchor} if anchor else {})}


def test_sections_run_from_heading_to_the_next_with_offsets_and_paths() -> None:
    result = split_text(
        TEXT,
        [
            entry("1 Introduction", 1, "# 1 Introduction"),
            entry("1.1 Scope", 2, "## 1.1 Scope"),
            entry("2 Changes", 1, "# 2 Changes"),
        ],
        whole_title="doc",
    )
    titles = [(s.title, s.level, s.path) for s in result.sections]
    assert titles == [
        ("1 Introduction", 1, ()),
        ("1.1 Scope", 2, ("1 Introduction",)),
        ("2 Changes", 1, ()),
    ]
    first, second, third = result.sections
    assert TEXT[first.start : first.end] == first.text
    assert first.text.startswith("# 1 Introduction") and first.end == second.start
    assert "first added" in second.text and third.end == len(TEXT)
    assert result.preamble_chars == TEXT.index("# 1")
    assert not result.unlocated


def test_titles_match_without_case_markup_or_numbering() -> None:
    result = split_text(TEXT, [entry("introduction"), entry("SCOPE", 2)], whole_title="doc")
    assert [s.start for s in result.sections] == [TEXT.index("# 1 Intro"), TEXT.index("## 1.1")]


def test_duplicate_titles_are_told_apart_by_position() -> None:
    result = split_text(
        TEXT,
        [entry("Added", 3, "### Added"), entry("Added", 3, "### Added"), entry("Fixed", 3)],
        whole_title="doc",
    )
    first, second, fixed = result.sections
    assert "first added" in first.text and "second added" not in first.text
    assert "second added" in second.text and fixed.text.startswith("### Fixed")


def test_an_entry_moved_out_of_order_is_still_found_and_sections_keep_document_order() -> None:
    result = split_text(TEXT, [entry("2 Changes"), entry("1 Introduction")], whole_title="doc")
    assert [s.title for s in result.sections] == ["1 Introduction", "2 Changes"]
    assert [s.id for s in result.sections] == ["s1", "s2"]


def test_entries_that_cannot_be_found_are_listed() -> None:
    result = split_text(
        TEXT, [entry("Scope", 2), entry("Nowhere", anchor="## Nowhere")], whole_title="doc"
    )
    assert [s.title for s in result.sections] == ["Scope"]
    assert result.unlocated == ({"index": 1, "title": "Nowhere", "anchor": "## Nowhere"},)


def test_a_renamed_entry_is_found_by_its_anchor() -> None:
    result = split_text(TEXT, [entry("Purpose", 2, "## 1.1 Scope")], whole_title="doc")
    assert result.sections[0].title == "Purpose"
    assert result.sections[0].text.startswith("## 1.1 Scope")


def test_an_empty_outline_gives_the_whole_text_as_one_section() -> None:
    result = split_text(TEXT, [], whole_title="notes")
    assert [(s.title, s.start, s.end) for s in result.sections] == [("notes", 0, len(TEXT))]


@pytest.mark.parametrize(
    ("title", "key"),
    [
        ("1.2 Scope", "scope"),
        ("## Scope {#scope}", "scope"),
        ("CHAPTER IV", "chapter iv"),
        ("第一章 总则", "总则"),
        ("（一）范围", "范围"),
        ("IV. Results", "results"),
    ],
)
def test_title_keys(title: str, key: str) -> None:
    assert title_key(title) == key


def test_a_title_and_its_heading_line_have_the_same_key() -> None:
    assert title_key("2.0.0 - 2026-06-07") == title_key("## [2.0.0] - 2026-06-07")
    assert title_key("Scope") == title_key("Scope { #scope }")


def test_an_anchor_cut_short_still_finds_its_long_line() -> None:
    text = "intro\n" + "A very long first line " * 20 + "\nmore\n"
    result = split_text(text, [entry("Whole", 1, "A very long first line A very")], whole_title="x")
    assert result.sections[0].start == text.index("A very")
