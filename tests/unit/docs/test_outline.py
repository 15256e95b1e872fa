"""Drafting an outline from a document's structure: Markdown, reST, plain text, and the rules they share."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from segue.docs.model import Document, Heading, Outline
from segue.docs.outline import DEFAULT_MAX_HEADINGS, NO_HEADINGS, draft_outline

CORPUS = Path(
    os.environ.get("SEGUE_CORPUS", Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus")
)


def outline(text: str, fmt: str) -> Outline:
    return draft_outline(Document(text=text, format=fmt))


def titles(text: str, fmt: str) -> list[str]:
    return [h.title for h in outline(text, fmt).headings]


def pairs(text: str, fmt: str) -> list[tuple[int, str]]:
    return [(h.level, h.title) for h in outline(text, fmt).headings]


def md(text: str) -> list[tuple[int, str]]:
    return pairs(text, "markdown")


def rst(text: str) -> list[tuple[int, str]]:
    return pairs(text, "rst")


def txt(text: str) -> list[tuple[int, str]]:
    return pairs(text, "text")


# --- shared rules -----------------------------------------------------------------------


def test_reader_headings_are_returned_with_the_readers_warnings() -> None:
    """Headings a reader found (HTML, PDF, DOCX) are returned as they are, with its warnings."""
    found = (Heading("Intro", 1, 0, "Intro"), Heading("Scope", 2, 10, "Scope"))
    doc = Document(text="Intro\n...", format="html", headings=found, warnings=("Odd markup.",))
    result = draft_outline(doc)
    assert result.headings == found
    assert result.method == "html-structure"
    assert result.warnings == ("Odd markup.",)


def test_a_method_hint_names_the_readers_method() -> None:
    """The caller may say how the reader found its headings (``pdf-bookmarks``)."""
    doc = Document(text="x", format="pdf", headings=(Heading("A", 1, 0, "x"),))
    assert draft_outline(doc, method="pdf-bookmarks").method == "pdf-bookmarks"


def test_reader_levels_are_ranked_too() -> None:
    """A page whose headings are all h2 gets level 1: levels are ranks within the document."""
    found = (Heading("A", 2, 0, "A"), Heading("B", 3, 2, "B"), Heading("C", 2, 4, "C"))
    doc = Document(text="A\nB\nC", format="html", headings=found)
    assert [h.level for h in draft_outline(doc).headings] == [1, 2, 1]


def test_levels_deeper_than_six_are_shown_at_six_with_a_warning() -> None:
    """At most six levels: deeper ones are folded into level 6, and the outline says so."""
    found = tuple(Heading(f"H{n}", n, n, f"H{n}") for n in range(1, 9))
    result = draft_outline(Document(text="x" * 9, format="docx", headings=found))
    assert [h.level for h in result.headings] == [1, 2, 3, 4, 5, 6, 6, 6]
    assert any("8 levels deep" in w for w in result.warnings)


def test_methods_name_the_format() -> None:
    """The method says which structure was read."""
    assert outline("# A", "markdown").method == "markdown-structure"
    assert outline("A\n===", "rst").method == "rst-structure"
    assert outline("1 A", "text").method == "text-structure"


def test_no_headings_is_a_valid_outline_with_a_warning() -> None:
    """Zero headings: the whole document is one section, and a warning says so."""
    result = outline("Just a paragraph.\n\nAnd another one.\n", "text")
    assert result.headings == ()
    assert result.warnings == (NO_HEADINGS,)


def test_the_readers_warnings_come_first() -> None:
    """The reader's warnings are kept, before the outline's own."""
    doc = Document(text="plain words", format="text", warnings=("Decoded as GB18030.",))
    assert draft_outline(doc).warnings == ("Decoded as GB18030.", NO_HEADINGS)


def test_too_many_headings_keep_the_top_levels_that_fit() -> None:
    """Over the cap, the deepest levels are dropped until the outline fits, with a warning."""
    text = "".join(f"# Part {p}\n\n" + "## Item\n\n" * 3 for p in range(10))
    result = draft_outline(Document(text=text, format="markdown"), max_headings=20)
    assert [h.title for h in result.headings] == [f"Part {p}" for p in range(10)]
    assert result.warnings == (
        "40 headings were found, more than 20; only levels 1 to 1 were kept (10 headings) "
        "so the outline stays editable.",
    )


def test_too_many_top_level_headings_keep_the_first_ones() -> None:
    """If even level 1 does not fit, the first ``max_headings`` top-level headings are kept."""
    text = "".join(f"# H{n}\n\n" for n in range(30))
    result = draft_outline(Document(text=text, format="markdown"), max_headings=25)
    assert len(result.headings) == 25
    assert result.headings[-1].title == "H24"
    assert "only the first 25 top-level headings were kept" in result.warnings[0]


def test_the_default_cap_allows_two_thousand_headings() -> None:
    """2,000 headings fit under the default cap; 2,001 do not."""
    assert DEFAULT_MAX_HEADINGS == 2000
    fits = "".join(f"# H{n}\n" for n in range(2000))
    assert len(outline(fits, "markdown").headings) == 2000
    over = fits + "# Last\n"
    assert len(outline(over, "markdown").headings) == 2000


def test_offsets_and_anchors_point_at_the_heading_line() -> None:
    """``offset`` is where the heading's line starts; ``anchor`` is that line, stripped."""
    text = "intro\n\n  ## Scope ##\n\nTitle\n=====\n"
    for heading in outline(text, "markdown").headings:
        line = text[heading.offset :].split("\n", 1)[0]
        assert line.strip() == heading.anchor
    assert [h.anchor for h in outline(text, "markdown").headings] == ["## Scope ##", "Title"]


def test_unknown_formats_are_read_as_plain_text() -> None:
    """A PDF without bookmarks (no reader headings) falls back to the plain-text rules."""
    assert txt("1 Introduction\n\nText.\n") == [(1, "1 Introduction")]
    assert pairs("1 Introduction\n\nText.\n", "pdf") == [(1, "1 Introduction")]


# --- Markdown ---------------------------------------------------------------------------


def test_markdown_atx_levels_are_ranked() -> None:
    """A document whose headings are only ``##`` and ``###`` gets levels 1 and 2."""
    assert md("## A\n\ntext\n\n### B\n\n## C\n") == [(1, "A"), (2, "B"), (1, "C")]


def test_markdown_atx_closing_hashes_and_indentation() -> None:
    """Closing ``#`` runs are removed; up to 3 spaces of indentation are allowed."""
    text = "# One #\n   ## Two ##########\n### Three#\n#### ####\n"
    assert md(text) == [(1, "One"), (2, "Two"), (3, "Three#")]


def test_markdown_lines_that_are_not_atx_headings() -> None:
    """``#5 bolt``, ``#hashtag``, seven hashes, an escaped hash and 4-space indents are text."""
    text = "#5 bolt\n\n#hashtag\n\n####### seven\n\n\\# escaped\n\n    # code\n"
    assert md(text) == []


def test_markdown_setext_headings() -> None:
    """``===`` under a paragraph line is level 1, ``---`` level 2; the title may span lines."""
    text = "Title\n=====\n\nSub *part*\n---\n\nTwo\nlines\n===\n"
    assert md(text) == [(1, "Title"), (2, "Sub part"), (1, "Two lines")]


def test_markdown_thematic_breaks_are_not_headings() -> None:
    """``---`` after a blank line, ``***`` and ``- - -`` under a paragraph are breaks."""
    text = "Para\n\n---\n\nAnother\n***\n\nThird\n- - -\n"
    assert md(text) == []


def test_markdown_a_long_paragraph_over_dashes_is_not_a_heading() -> None:
    """A rule under a paragraph of more than three lines is a thematic break."""
    text = "one\ntwo\nthree\nfour\n---\n\n# Real\n"
    assert md(text) == [(1, "Real")]


def test_markdown_nothing_inside_backtick_and_tilde_fences() -> None:
    """Fenced code of ``` or ~~~ hides ``# foo`` and setext underlines."""
    text = "```python\n# comment\n```\n\n~~~\nFoo\n===\n~~~\n\n# After\n"
    assert md(text) == [(1, "After")]


def test_markdown_long_fences_close_only_on_a_fence_as_long() -> None:
    """A 32-backtick fence (commonmark-spec.md) is not closed by a shorter one."""
    fence = "`" * 32
    text = f"{fence} example\n```\n# foo\n```\n## bar\n.\n<h1>foo</h1>\n{fence}\n\n# Real\n"
    assert md(text) == [(1, "Real")]


def test_markdown_a_fence_closes_only_with_its_own_character() -> None:
    """A ``~~~`` fence is not closed by backticks, and the closer may be longer."""
    text = "~~~~\n```\n# hidden\n~~~~~~\n# Shown\n"
    assert md(text) == [(1, "Shown")]


def test_markdown_an_unclosed_fence_runs_to_the_end_with_a_warning() -> None:
    """As in CommonMark an unclosed fence hides the rest; the outline says where it opened."""
    result = outline("# A\n\n```\n# not a heading\n", "markdown")
    assert [h.title for h in result.headings] == ["A"]
    assert result.warnings == (
        "The code fence opened on line 3 is never closed, "
        "so nothing after it was searched for headings.",
    )


def test_markdown_backticks_with_a_backtick_info_string_are_not_a_fence() -> None:
    """```` ``` foo ` ```` is inline code, not a fence opening."""
    assert md("``` a ` b\n# Heading\n") == [(1, "Heading")]


def test_markdown_nothing_inside_indented_code() -> None:
    """Four spaces after a blank line are code; a ``---`` under it is a break."""
    text = "Text\n\n    # not heading\n    Foo\n---\n"
    assert md(text) == []


def test_markdown_indented_text_continues_a_paragraph() -> None:
    """Four spaces inside a paragraph are a continuation, so the setext title spans it."""
    assert md("Foo\n    bar\n===\n") == [(1, "Foo bar")]


def test_markdown_nothing_inside_html_comments_and_blocks() -> None:
    """HTML comments (even multi-line) and HTML blocks hide Markdown headings."""
    text = (
        "<!--\n# hidden\n-->\n\n<div>\n# also hidden\n</div>\n\n"
        "<script>\n\n# in script\n\n</script>\n\n# Shown\n"
    )
    assert md(text) == [(1, "Shown")]


def test_markdown_an_unclosed_html_comment_runs_to_the_end_with_a_warning() -> None:
    """An HTML comment that never closes hides the rest, and the outline says so."""
    result = outline("# A\n<!-- draft\n# B\n", "markdown")
    assert [h.title for h in result.headings] == ["A"]
    assert result.warnings == (
        "The HTML block opened on line 2 is never closed, "
        "so nothing after it was searched for headings.",
    )


def test_markdown_a_lone_tag_cannot_interrupt_a_paragraph() -> None:
    """``<span>`` under a paragraph line is inline HTML, so the setext underline still applies."""
    assert md("Title\n<span>x</span>\n===\n") == [(1, "Title x")]


def test_markdown_yaml_front_matter_is_skipped() -> None:
    """Front matter at the top, closed by ``---`` or ``...``, is not read as headings."""
    assert md("---\ntitle: X\n---\n# Real\n") == [(1, "Real")]
    assert md("---\ntitle: X\nnote: |\n  # not heading\n...\n\nBody\n---\n") == [(1, "Body")]


def test_markdown_a_later_rule_pair_is_not_front_matter() -> None:
    """Only the very top can hold front matter; elsewhere ``---`` is a break or an underline."""
    assert md("Intro\n\n---\ntitle\n---\n") == [(1, "title")]


def test_markdown_headings_in_lists_and_quotes_are_not_outline_headings() -> None:
    """A heading inside a list item or block quote belongs to that block."""
    text = "- item\n\n  ## In item\n\n> # Quoted\n\n- foo\n---\n\n# Top\n"
    assert md(text) == [(1, "Top")]


def test_markdown_a_fence_in_a_list_item_hides_its_content() -> None:
    """A fence indented under a list item is still a fence."""
    text = "1. Step:\n\n    ```\n    # comment\n    ```\n\n## Next\n"
    assert md(text) == [(1, "Next")]


def test_markdown_a_fence_in_a_list_item_ends_with_the_item() -> None:
    """An unclosed fence inside a list item ends where the item does."""
    assert md("- item\n\n  ```\n  # code\n\n# Top\n") == [(1, "Top")]


def test_markdown_a_list_ends_at_a_dedented_line() -> None:
    """After a list, a heading at column 0 is a top-level heading again."""
    assert md("- a\n- b\n\nPara\n===\n\n- c\n# Top\n") == [(1, "Para"), (1, "Top")]


def test_markdown_titles_are_plain_text() -> None:
    """Inline markup is stripped: emphasis, code, links, reference links, images."""
    text = (
        "# **Bold** and *it* and _em_ and `code`\n"
        "## [Link](https://x.example) and [ref][r] and [2.0.0] - 2026-06-07\n"
        "## ![alt text](img.png) ~~gone~~ &amp; <span>tag</span>\n"
    )
    assert titles(text, "markdown") == [
        "Bold and it and em and code",
        "Link and ref and 2.0.0 - 2026-06-07",
        "alt text gone & tag",
    ]


def test_markdown_code_spans_keep_their_content() -> None:
    """Markup inside a code span stays literal; backslash escapes work outside it."""
    text = "# Use `__init__` and `*args`\n# Not \\*emphasis\\*\n"
    assert titles(text, "markdown") == ["Use __init__ and *args", "Not *emphasis*"]


def test_markdown_mkdocs_attribute_suffixes_are_removed() -> None:
    """``{ #anchor }`` and ``{#id .class}`` after a title are MkDocs attributes."""
    text = "# 容器中的 FastAPI - Docker { #fastapi-in-containers-docker }\n## Two {#id .cls}\n"
    assert titles(text, "markdown") == ["容器中的 FastAPI - Docker", "Two"]


def test_markdown_numbering_is_kept() -> None:
    """Numbers in titles are part of the title."""
    assert titles("## 1.2 Scope\n", "markdown") == ["1.2 Scope"]


def test_markdown_duplicate_titles_each_get_a_heading() -> None:
    """Repeated titles (``### Added``) are separate headings at their own offsets."""
    text = "## [1.0]\n### Added\n- x\n\n## [0.9]\n### Added\n- y\n"
    result = outline(text, "markdown")
    added = [h for h in result.headings if h.title == "Added"]
    assert len(added) == 2
    assert added[0].offset == text.index("### Added")
    assert added[1].offset == text.rindex("### Added")


def test_markdown_empty_headings_are_not_taken() -> None:
    """A lone ``#`` is an empty heading, which an outline cannot show."""
    assert md("#\n\n# Real\n") == [(1, "Real")]


def test_markdown_tabs_after_the_hashes() -> None:
    """A tab may separate the hashes from the title."""
    assert md("#\tFoo\n") == [(1, "Foo")]


# --- reStructuredText -------------------------------------------------------------------


def test_rst_levels_follow_the_order_styles_appear() -> None:
    """The first underline style seen is level 1, the next new one level 2, and so on."""
    text = "Top\n===\n\nSub\n---\n\nDeeper\n~~~~~~\n\nNext top\n========\n\nSub 2\n-----\n"
    assert rst(text) == [(1, "Top"), (2, "Sub"), (3, "Deeper"), (1, "Next top"), (2, "Sub 2")]


def test_rst_an_overline_makes_a_different_style() -> None:
    """``=`` with an overline and ``=`` without are two styles (pep-0751.rst)."""
    text = "========\nAbstract\n========\n\nPart\n----\n\nKey\n===\n\n=====\nNext\n=====\n"
    assert rst(text) == [(1, "Abstract"), (2, "Part"), (3, "Key"), (1, "Next")]


def test_rst_an_overlined_title_may_be_inset() -> None:
    """With an overline the title line may be indented."""
    assert rst("-----------\n  Inset  \n-----------\n") == [(1, "Inset")]


def test_rst_offset_and_anchor_are_the_title_line() -> None:
    """The heading points at the title line, not at its overline."""
    text = "Intro.\n\n=====\nTitle\n=====\n"
    (heading,) = outline(text, "rst").headings
    assert heading.offset == text.index("Title")
    assert heading.anchor == "Title"


def test_rst_underlines_shorter_than_the_title() -> None:
    """A slightly short underline is tolerated; a far too short one is not a title."""
    assert rst("A long section title\n==================\n") == [(1, "A long section title")]
    assert rst("A long section title\n====\n") == []
    assert rst("Hi\n==\n") == []


def test_rst_cjk_titles_count_double_width() -> None:
    """Chinese characters take two columns, so their underline is twice as long."""
    assert rst("概述\n====\n") == [(1, "概述")]
    assert rst("安装与配置指南\n======\n") == []


def test_rst_literal_blocks_hold_no_titles() -> None:
    """Text after ``::`` is code: ``# Correct:`` and underlined lines there are not titles."""
    text = (
        "Intro\n=====\n\nFor example::\n\n    # Correct:\n\n    Fake\n    ----\n\n"
        "Paragraph::\n\n  Also fake\n  =========\n\nNext\n----\n"
    )
    assert rst(text) == [(1, "Intro"), (2, "Next")]


def test_rst_directives_and_comments_hold_no_titles() -> None:
    """Indented content of a directive or comment is not read for titles."""
    text = (
        ".. code-block:: rst\n\n   Fake\n   ====\n\n"
        "..\n   A comment\n   ---------\n\n.. note::\n   x\n\nReal\n====\n"
    )
    assert rst(text) == [(1, "Real")]


def test_rst_the_pep_header_is_not_a_title() -> None:
    """The RFC 822 header block of a PEP (``PEP: 8``, ``Title: …``) is metadata."""
    text = (
        "PEP: 8\nTitle: Style Guide for Python Code\nAuthor: Guido van Rossum <guido@python.org>,\n"
        "        Barry Warsaw <barry@python.org>\nStatus: Active\n\n\nIntroduction\n============\n"
    )
    assert rst(text) == [(1, "Introduction")]


def test_rst_transitions_are_not_titles() -> None:
    """A lone punctuation line between blank lines is a transition."""
    assert rst("Para one.\n\n----------\n\nPara two.\n") == []


def test_rst_a_title_needs_a_blank_line_before_it() -> None:
    """The last line of a paragraph with a rule below is not a title."""
    assert rst("Para line one\nline two\n--------\n") == []


def test_rst_consecutive_titles_need_no_blank_line() -> None:
    """A title may follow the previous title's underline directly."""
    assert rst("Top\n===\nSub\n---\n") == [(1, "Top"), (2, "Sub")]


def test_rst_titles_are_plain_text() -> None:
    """Inline literals, roles, references and emphasis are stripped from titles."""
    text = (
        "``[[packages]]``\n================\n\n"
        "Using :pep:`style guide <8>` and `docs <https://x.example>`_\n"
        "============================================================\n\n"
        "*Em* and **strong**\n===================\n"
    )
    assert titles(text, "rst") == ["[[packages]]", "Using style guide and docs", "Em and strong"]


# --- plain text -------------------------------------------------------------------------


def test_text_numbered_headings_nest_by_depth() -> None:
    """``1``, ``1.1``, ``2.3.4``: the number's depth is the level."""
    text = "1 Introduction\n\nBody.\n\n1.1 Purpose\n\nBody.\n\n1.1.1 Details\n\nx\n\n2. Next\n\ny\n"
    assert txt(text) == [
        (1, "1 Introduction"),
        (2, "1.1 Purpose"),
        (3, "1.1.1 Details"),
        (1, "2. Next"),
    ]


def test_text_letter_and_roman_numbering() -> None:
    """``A.`` and ``IV.`` are depth 1; ``A.1`` is depth 2."""
    text = "A. Appendix\n\nx\n\nA.1 Detail\n\ny\n\nIV. Fourth\n\nz\n"
    assert txt(text) == [(1, "A. Appendix"), (2, "A.1 Detail"), (1, "IV. Fourth")]


def test_text_numbered_sentences_are_not_headings() -> None:
    """A terminal period, a lowercase start, or a wrapped line means a list item, not a heading."""
    text = (
        "1. Do this first.\n\n2. then this\n\n"
        "3. When applying the guideline would make the code less readable, even\n"
        "   for someone who is used to reading code that follows this PEP.\n\n"
        "4. Something long\ncontinues the sentence here\n"
    )
    assert txt(text) == []


def test_text_headings_need_a_blank_line_before() -> None:
    """A numbered line right under a paragraph line continues that paragraph."""
    assert txt("The answer is\n42 Things\n") == []


def test_text_tables_of_contents_are_not_headings() -> None:
    """Dotted leaders and page numbers mark a TOC line; the real headings come later."""
    text = (
        "1 Introduction ........ 7\n\n1.1 Purpose . . . . . . 7\n\n2 Scope         9\n\n"
        "1 Introduction\n\nText.\n"
    )
    result = outline(text, "text")
    assert [(h.level, h.title) for h in result.headings] == [(1, "1 Introduction")]
    assert result.headings[0].offset == text.rindex("1 Introduction")


def test_text_a_list_of_numbered_lines_is_not_headings() -> None:
    """Numbered lines directly above one another form a list or a TOC."""
    assert txt("1 Introduction\n2 Scope\n3 Terms\n") == []


def test_text_rfc_style_documents() -> None:
    """An RFC: column-0 headings over an indented body; TOC, page header and footer are not headings."""
    text = (
        "Network Working Group                                      R. Fielding\n\n"
        "                Hypertext Transfer Protocol -- HTTP/1.1\n\n"
        "Abstract\n\n   The protocol.\n\n"
        "Table of Contents\n\n   1   Introduction ...........................7\n"
        "   1.1    Purpose..............................7\n\n"
        "Fielding, et al.            Standards Track                     [Page 1]\n\n"
        "RFC 2616                        HTTP/1.1                       June 1999\n\n"
        "1 Introduction\n\n1.1 Purpose\n\n   The purpose.\n\n   More text.\n\n"
        "3.2.2 http URL\n\n   The scheme.\n\n"
        "19.6.1.1 Changes to Simplify Multi-homed Web Servers and Conserve IP\n"
        "         Addresses\n\n   Text.\n\n   More.\n\n   More.\n"
    )
    assert txt(text) == [
        (1, "Abstract"),
        (1, "Table of Contents"),
        (1, "1 Introduction"),
        (2, "1.1 Purpose"),
        (3, "3.2.2 http URL"),
        (4, "19.6.1.1 Changes to Simplify Multi-homed Web Servers and Conserve IP Addresses"),
    ]


def test_text_unnumbered_lines_are_headings_only_in_rfc_style_documents() -> None:
    """Without an indented body, a short column-0 line is just a line."""
    assert txt("Abstract\n\nBody text here.\n\n1 One\n\n2 Two\n\n3 Three\n") == [
        (1, "1 One"),
        (1, "2 Two"),
        (1, "3 Three"),
    ]


def test_text_book_and_chapter_lines() -> None:
    """``BOOK``/``EPILOGUE`` lines are above ``CHAPTER`` lines; duplicates are kept."""
    text = (
        "BOOK ONE: 1805\n\n\nCHAPTER I\n\nText.\n\nCHAPTER II\n\nText.\n\n"
        "BOOK TWO: 1805\n\nCHAPTER I\n\nText.\n\n"
        "FIRST EPILOGUE: 1813 - 20\n\nCHAPTER I\n\nText.\n\nSECOND EPILOGUE\n\nCHAPTER I\n\nEnd.\n"
    )
    assert txt(text) == [
        (1, "BOOK ONE: 1805"),
        (2, "CHAPTER I"),
        (2, "CHAPTER II"),
        (1, "BOOK TWO: 1805"),
        (2, "CHAPTER I"),
        (1, "FIRST EPILOGUE: 1813 - 20"),
        (2, "CHAPTER I"),
        (1, "SECOND EPILOGUE"),
        (2, "CHAPTER I"),
    ]


def test_text_parts_and_chapters_in_title_case() -> None:
    """``Part II`` and ``Chapter 3`` work too; PART sits above CHAPTER."""
    text = "PART II\n\nChapter 3\n\nText.\n\nChapter 4. The End\n\nText.\n"
    assert txt(text) == [(1, "PART II"), (2, "Chapter 3"), (2, "Chapter 4. The End")]


def test_text_signatures_and_short_sentences_are_not_headings() -> None:
    """``NAPOLEON`` under a letter, or "He has refused his Assent…" lines, are text."""
    text = (
        "I embrace you as I love you.\n\nJULIE\n\nNAPOLEON\n\n"
        "He has refused his Assent to Laws, the most wholesome and necessary for the public good.\n"
        "For cutting off our Trade with all parts of the world:\n"
        "For imposing Taxes on us without our Consent:\n"
    )
    assert txt(text) == []


def test_text_chinese_chapters_sections_and_enumerations() -> None:
    """章/回 above 节 above 一、 above （一）."""
    text = (
        "第一章 总则\n第一节 目的\n一、背景\n（一）由来\n正文。\n"
        "第二章 范围\n二、对象\n第1章 数字编号\n"
    )
    assert txt(text) == [
        (1, "第一章 总则"),
        (2, "第一节 目的"),
        (3, "一、背景"),
        (4, "（一）由来"),
        (1, "第二章 范围"),
        (3, "二、对象"),
        (1, "第1章 数字编号"),
    ]


def test_text_novel_chapters_up_to_one_hundred_and_twenty() -> None:
    """第一回 … 第一二零回 (sanguo-yanyi.txt) are chapters, even without blank lines around."""
    text = "第一回 宴桃园豪杰三结义,斩黄巾英雄首立功\n话说天下大势。\n第一二零回 荐杜预老将献新谋,降孙皓三分归一统\n却说。\n"
    assert titles(text, "text") == [
        "第一回 宴桃园豪杰三结义,斩黄巾英雄首立功",
        "第一二零回 荐杜预老将献新谋,降孙皓三分归一统",
    ]


def test_text_chinese_sentences_are_not_headings() -> None:
    """``第三回合，…`` or an enumerated sentence is body text."""
    text = "第三回合，张飞大喝一声。\n一、我们认为这是对的。\n（二）如下所述；\n第一章已经讲过，此处不再赘述\n"
    assert txt(text) == []


def test_text_marker_lines_are_top_level_titles() -> None:
    """``========简介========`` is a level-1 title "简介", above the 回 chapters."""
    text = "\n========简介========\n《三国演义》……\n\n========正文========\n第一回 宴桃园\n话说。\n"
    result = outline(text, "text")
    assert [(h.level, h.title) for h in result.headings] == [
        (1, "简介"),
        (1, "正文"),
        (2, "第一回 宴桃园"),
    ]
    assert result.headings[0].anchor == "========简介========"


def test_text_chinese_numbered_titles() -> None:
    """``1.1 中文标题`` is a numbered heading."""
    assert txt("1 概述\n\n1.1 中文标题\n\n正文。\n") == [(1, "1 概述"), (2, "1.1 中文标题")]


# --- the shared corpus ------------------------------------------------------------------

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus is not here")


def corpus_outline(name: str, fmt: str) -> Outline:
    data = (CORPUS / name).read_bytes()
    encoding = "gb18030" if name == "sanguo-yanyi.txt" else "utf-8"
    text = data.decode(encoding).replace("\r\n", "\n").replace("\f", "\n")
    return draft_outline(Document(text=text, format=fmt))


def level_counts(result: Outline) -> dict[int, int]:
    return dict(sorted(Counter(h.level for h in result.headings).items()))


@needs_corpus
@pytest.mark.parametrize(
    ("name", "fmt", "counts"),
    [
        ("commonmark-spec.md", "markdown", {1: 7, 2: 34, 3: 2, 4: 2}),
        ("pep-0008.rst", "rst", {1: 11, 2: 19, 3: 12}),
        ("war-and-peace.txt", "text", {1: 17, 2: 365}),
        ("sanguo-yanyi.txt", "text", {1: 2, 2: 120}),
    ],
)
def test_corpus_counts_per_level(name: str, fmt: str, counts: dict[int, int]) -> None:
    """The counts the MANIFEST gives (sanguo: 简介 and 正文 over the 120 chapters)."""
    assert level_counts(corpus_outline(name, fmt)) == counts


@needs_corpus
def test_corpus_commonmark_spec_examples_hold_no_headings() -> None:
    """None of the ``# foo`` lines in the 32-backtick example fences is taken."""
    result = corpus_outline("commonmark-spec.md", "markdown")
    assert result.headings[0].title == "Introduction"  # the front matter ends with "..."
    assert not {"foo", "bar", "Foo", "Foo bar", "baz"} & {h.title for h in result.headings}


@needs_corpus
def test_corpus_changelog_keeps_every_duplicate() -> None:
    """keep-a-changelog: ``### Added`` 14 times, Changed 8, Fixed 5, Removed 4."""
    result = corpus_outline("keep-a-changelog-CHANGELOG.md", "markdown")
    third = Counter(h.title for h in result.headings if h.level == 3)
    assert (third["Added"], third["Changed"], third["Fixed"], third["Removed"]) == (14, 8, 5, 4)
    assert [h.title for h in result.headings[:3]] == [
        "Changelog",
        "Unreleased",
        "2.0.0 - 2026-06-07",
    ]
    assert len({h.offset for h in result.headings}) == len(result.headings)


@needs_corpus
def test_corpus_fastapi_zh_titles_lose_their_attributes() -> None:
    """MkDocs ``{ #anchor }`` suffixes are removed; Dockerfile ``# (1)!`` comments are not headings."""
    result = corpus_outline("fastapi-zh-deployment-docker.md", "markdown")
    assert len(level_counts(result)) == 4
    assert result.headings[0].title == "容器中的 FastAPI - Docker"
    assert not [h for h in result.headings if "{" in h.title or "(1)" in h.title]


@needs_corpus
def test_corpus_pep_0008_has_no_literal_block_titles() -> None:
    """The PEP header is not a title, nor are ``# Correct:`` lines in literal blocks."""
    result = corpus_outline("pep-0008.rst", "rst")
    assert result.headings[0].title == "Introduction"
    assert not [h for h in result.headings if "Correct" in h.title or "Wrong" in h.title]


@needs_corpus
def test_corpus_pep_0751_nests_five_levels_of_code_like_titles() -> None:
    """96 sections in 5 levels; literal titles lose their backquotes; near-duplicates stay."""
    result = corpus_outline("pep-0751.rst", "rst")
    assert len(result.headings) == 96
    assert len(level_counts(result)) == 5
    found = [h.title for h in result.headings]
    assert {"[[packages]]", "packages.vcs.requested-revision"} <= set(found)
    assert "File Format" in found
    assert "File format" in found


@needs_corpus
def test_corpus_rfc2616_takes_numbered_headings_but_not_its_toc() -> None:
    """The TOC, page headers and footers are not headings; numbers run 4 deep; no 13.1 exists."""
    result = corpus_outline("rfc2616.txt", "text")
    found = [h.title for h in result.headings]
    assert not [t for t in found if ".." in t or t.startswith("RFC 2616") or "[Page" in t]
    numbered = [h for h in result.headings if h.title[0].isdigit()]
    assert len(numbered) == 256
    assert max(h.level for h in numbered) == 4
    assert "13.1.1 Cache Correctness" in found
    assert not [t for t in found if t.startswith("13.1 ")]
    assert found.count("1 Introduction") == 1


@needs_corpus
def test_corpus_declaration_of_independence_has_no_headings() -> None:
    """Its one-sentence "He has …" lines are not headings: the outline is empty."""
    result = corpus_outline("declaration-of-independence.txt", "text")
    assert result.headings == ()
    assert result.warnings == (NO_HEADINGS,)


@needs_corpus
def test_corpus_war_and_peace_repeats_chapter_one_per_part() -> None:
    """Every part restarts at CHAPTER I; signatures in letters are not headings.

    (Its speed is measured in bench/doc_pipeline.py, not asserted here.)
    """
    data = (CORPUS / "war-and-peace.txt").read_text(encoding="utf-8").replace("\r\n", "\n")
    result = draft_outline(Document(text=data, format="text"))
    assert Counter(h.title for h in result.headings)["CHAPTER I"] == 17
    assert not {"NAPOLEON", "JULIE", "MARY"} & {h.title for h in result.headings}
