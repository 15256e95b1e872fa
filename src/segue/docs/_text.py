"""Headings of plain text: numbered, keyword, Chinese and marker lines.

Every pattern is tried on one stripped line at a time, with a little context
(the lines before and after). Raw levels share one scale so that patterns of
different families nest sensibly when a document mixes them; the caller turns
them into ranks.

The scale, top to bottom: marker lines (``==== 简介 ====``); ``VOLUME``/卷/部/篇;
``BOOK``; ``PART``; ``CHAPTER``/章/回; ``SECTION``/节; ``一、``; ``（一）``;
numbered headings by depth (``1``, ``1.1``, ``1.1.1``, …; ``A.`` and ``IV.``
are depth 1). Front and back matter (``EPILOGUE``, ``PREFACE``, ``APPENDIX``, …)
sits at the highest of ``VOLUME``/``BOOK``/``PART`` found in the document, or
beside the chapters when there are none (War and Peace: ``SECOND EPILOGUE``
beside ``BOOK ONE: 1805``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import replace

from segue.docs.model import Heading

MARKER, VOLUME, BOOK, PART, CHAPTER, SECTION, CN_ENUM, CN_PAREN, NUMBERED = range(0, 90, 10)
"""Raw levels (smaller is higher); a numbered heading of depth d gets ``NUMBERED + d``."""

MATTER = -1
"""Placeholder level for front/back matter, resolved once the whole text is seen."""

MAX_LINE_CHARS = 120
"""A longer line is never a heading (keeps 10,000-character paragraphs cheap)."""

MAX_TITLE_CHARS = 80
"""The longest title, numbering excluded, taken for a numbered heading."""

MAX_TITLE_WORDS = 14
"""The most words a numbered heading's title may have; more reads like a sentence."""

WRAPPED_LINE_CHARS = 60
"""A numbered line longer than this with text right below it is a wrapped paragraph."""

MAX_WRAPPED_LINES = 2
"""The most continuation lines a wrapped numbered heading may have."""

MAX_CN_TITLE_CHARS = 30
"""The longest title taken after ``一、`` or ``（一）``."""

_CN_DIGITS = "一二三四五六七八九十百千零〇两"
_ROMAN = r"(?=[MDCLXVI])M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})"
_NUMBER_WORDS = (
    r"(?i:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[- ]?"
    r"(?:one|two|three|four|five|six|seven|eight|nine))?|one|two|three|four|five|six|"
    r"seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|"
    r"eighteen|nineteen|hundred)"
)
_SEP_TITLE = r"(?:\s*[.:\u2013\u2014-]\s*(?P<title>.*))?"

_MARKER = re.compile(
    r"(?:([=~-])\1{2,}|([*#])\2{3,})\s*(?P<title>[^=*#~\-\s](?:.{0,38}?\S)?)\s*(?:\1|\2){3,}"
)
_CN_CHAPTER = re.compile(
    rf"第\s*(?:[0-9\uff10-\uff19]+|[{_CN_DIGITS}]+)\s*(?P<unit>[卷部篇集章回节節])(?P<rest>.*)"
)
_CN_SEPARATED = re.compile(r"(?:[\s:：.、]+.*)?")
_CN_ENUM = re.compile(rf"[{_CN_DIGITS}]+、\s*(?P<title>\S.*)")
_CN_PAREN = re.compile(rf"[（(][{_CN_DIGITS}]+[）)]\s*(?P<title>\S.*)")
_KEYWORD = re.compile(
    r"(?P<kw>VOLUME|Volume|BOOK|Book|PART|Part|CHAPTER|Chapter|SECTION|Section|APPENDIX|Appendix)"
    rf"\s+(?:\d{{1,4}}|{_ROMAN}|(?i:[ivxlc]+)|{_NUMBER_WORDS}|[A-Z])\b{_SEP_TITLE}"
)
_MATTER = re.compile(
    r"(?:(?:FIRST|SECOND|THIRD|FOURTH|FIFTH|FINAL|First|Second|Third|Fourth|Fifth|Final)\s+)?"
    r"(?:EPILOGUE|PROLOGUE|PREFACE|FOREWORD|INTRODUCTION|AFTERWORD|CONCLUSION|"
    rf"Epilogue|Prologue|Preface|Foreword|Introduction|Afterword|Conclusion){_SEP_TITLE}"
)
_NUMBERED = re.compile(
    rf"(?P<num>\d{{1,3}}(?:\.\d{{1,3}})*\.?|[A-Z](?:\.\d{{1,3}})+\.?|[A-Z]\.|{_ROMAN}\.)"
    r"[ \t]+(?P<title>\S.*)"
)
_TOC_LEADER = re.compile(r"\.{3,}|(?:\. ){3,}|\s{2,}\d+$")
_RUN_OF_SPACES = re.compile(r"\S {3,}\S")
_CN_FIRST = frozenset(f"第（(=~-*#{_CN_DIGITS}")  # what a marker or Chinese heading starts with
_TERMINAL = frozenset(".,;:。，；：、")
_CN_SENTENCE = frozenset("。；！？")

_KEYWORD_LEVELS = {
    "VOLUME": VOLUME,
    "BOOK": BOOK,
    "PART": PART,
    "CHAPTER": CHAPTER,
    "SECTION": SECTION,
    "APPENDIX": MATTER,
}
_CN_UNIT_LEVELS = {"卷": VOLUME, "部": VOLUME, "篇": VOLUME, "集": VOLUME, "章": CHAPTER}
_CN_UNIT_LEVELS |= {"回": CHAPTER, "节": SECTION, "節": SECTION}


def line_starts(lines: Sequence[str]) -> list[int]:
    r"""The offset of each line in the text the lines were split from with ``\n``.

    Args:
        lines: ``text.split("\n")``.

    Returns:
        One offset per line.
    """
    return list(itertools.accumulate((len(line) + 1 for line in lines[:-1]), initial=0))


def find_headings(text: str) -> tuple[list[Heading], list[str]]:
    r"""Find the headings of a plain-text document.

    Args:
        text: Normalized text (``\n`` line ends).

    Returns:
        The headings in document order with raw levels (see the module
        docstring), and warnings (none for plain text).
    """
    lines = text.split("\n")
    starts = line_starts(lines)
    found: list[Heading] = []
    for i, line in enumerate(lines):
        if 0 < len(line) <= MAX_LINE_CHARS and not line.isspace():
            heading = _classify(lines, i)
            if heading is not None:
                level, title = heading
                found.append(Heading(title, level, starts[i], line.strip()))
    found.extend(_rfc_unnumbered(lines, starts, found))
    found.sort(key=lambda h: h.offset)
    return _resolve_matter(found), []


def _classify(lines: Sequence[str], i: int) -> tuple[int, str] | None:
    """The raw level and title of line ``i`` if it is a heading, else ``None``."""
    line = lines[i]
    stripped = line.strip()
    level = _chinese_level(stripped) if stripped[0] in _CN_FIRST else None
    if level is None and _blank_before(lines, i):
        if line[0] not in " \t":
            numbered = _numbered(stripped, lines, i)
            if numbered is not None:
                return numbered
        level = _keyword_level(stripped, lines, i)
    return None if level is None else (level, _title_of(stripped))


def _chinese_level(stripped: str) -> int | None:
    """Marker lines and Chinese chapter or enumeration headings, which need no blank line."""
    if _MARKER.fullmatch(stripped):
        return MARKER
    chapter = _CN_CHAPTER.fullmatch(stripped)
    if chapter is not None and _cn_chapter_ok(chapter.group("rest"), stripped):
        return _CN_UNIT_LEVELS[chapter.group("unit")]
    for pattern, level in ((_CN_ENUM, CN_ENUM), (_CN_PAREN, CN_PAREN)):
        match = pattern.fullmatch(stripped)
        if match is not None and _cn_title_ok(match.group("title")):
            return level
    return None


def _cn_chapter_ok(rest: str, stripped: str) -> bool:
    """Whether what follows ``第…章`` reads as a chapter title, not as a sentence."""
    if len(stripped) > 60 or stripped[-1] in _TERMINAL or "。" in stripped:
        return False
    if _CN_SEPARATED.fullmatch(rest):
        return True
    # "第一章总则" runs on without a space; "第三回合，张飞……" is a sentence.
    return len(rest) <= 20 and all(ch.isalnum() for ch in rest)


def _cn_title_ok(title: str) -> bool:
    """Whether a Chinese enumeration's title is short and not a sentence."""
    return (
        len(title) <= MAX_CN_TITLE_CHARS
        and title[-1] not in _TERMINAL
        and not any(ch in _CN_SENTENCE for ch in title)
    )


def _numbered(stripped: str, lines: Sequence[str], i: int) -> tuple[int, str] | None:
    """``1 Introduction``, ``2.3.4 Title``, ``A. Title``, ``IV. Title`` at column 0.

    Returns:
        The raw level and the title (with its number and any wrapped
        continuation line), or ``None`` when the line is not a heading.
    """
    match = _NUMBERED.fullmatch(stripped)
    if match is None or _TOC_LEADER.search(stripped):
        return None
    depth = match.group("num").rstrip(".").count(".") + 1
    wrapped = _wrapped(lines, i, match.start("title"))
    title = " ".join([match.group("title"), *wrapped])
    if not _title_ok(title, lowercase_ok=depth > 1):
        return None
    if not wrapped and not _next_line_ok(lines, i):
        return None
    return NUMBERED + min(depth, 9), " ".join(f"{stripped} {' '.join(wrapped)}".split())


def _wrapped(lines: Sequence[str], i: int, column: int) -> list[str]:
    """The continuation lines of a heading wrapped under its title's first column.

    ``19.6.1.1 Changes to … Conserve IP`` / ``         Addresses``: at most
    :data:`MAX_WRAPPED_LINES` lines aligned with the title, then a blank line.
    """
    j = i + 1
    while j < len(lines) and j - i <= MAX_WRAPPED_LINES and lines[j].strip():
        if len(lines[j]) - len(lines[j].lstrip()) != column:
            return []
        j += 1
    if j == i + 1 or (j < len(lines) and lines[j].strip()):
        return []
    return [line.strip() for line in lines[i + 1 : j]]


def _title_ok(title: str, *, lowercase_ok: bool) -> bool:
    """Whether a numbered line's title reads like a heading rather than a sentence."""
    if len(title) > MAX_TITLE_CHARS or len(title.split()) > MAX_TITLE_WORDS:
        return False
    if title[-1] in _TERMINAL or _RUN_OF_SPACES.search(title):
        return False
    first = title[0]
    if not (first.isalnum() or first in "\"'\u201c\u2018(《「["):
        return False
    return lowercase_ok or not first.islower()


def _next_line_ok(lines: Sequence[str], i: int) -> bool:
    """A heading is not followed by the rest of its sentence, nor by a list or TOC line.

    A long line with text right below it is a wrapped list item
    (``4. When the code needs to remain compatible with older versions of``).
    """
    if i + 1 >= len(lines):
        return True
    following = lines[i + 1].strip()
    if not following:
        return True
    if len(lines[i]) > WRAPPED_LINE_CHARS:
        return False
    return not following[0].islower() and _NUMBERED.fullmatch(following) is None


def _keyword_level(stripped: str, lines: Sequence[str], i: int) -> int | None:
    """``CHAPTER I``, ``BOOK ONE: 1805``, ``PART II``, ``SECOND EPILOGUE``."""
    match = _KEYWORD.fullmatch(stripped)
    if match is not None and _keyword_title_ok(match.group("title")):
        return _KEYWORD_LEVELS[match.group("kw").upper()]
    match = _MATTER.fullmatch(stripped)
    # Matter lines carry no numeral, so ask for a blank line on both sides.
    if match is not None and _keyword_title_ok(match.group("title")) and _blank_after(lines, i):
        return MATTER
    return None


def _keyword_title_ok(title: str | None) -> bool:
    """The optional title after ``CHAPTER IV:`` is short and does not end a sentence."""
    if not title:
        return True
    return len(title) <= 60 and title[-1] not in ",;:"


def _rfc_unnumbered(
    lines: Sequence[str], starts: Sequence[int], found: Sequence[Heading]
) -> list[Heading]:
    """Unnumbered column-0 headings (``Abstract``) of an RFC-style document.

    An RFC-style document has numbered headings at column 0 and a body indented
    below them; there, any short, isolated column-0 line is a heading too.
    Running headers and footers contain runs of spaces and are not taken.
    """
    numbered = sum(1 for h in found if h.level > NUMBERED)
    if numbered < 3 or not _mostly_indented(lines):
        return []
    taken = {h.offset for h in found}
    extra: list[Heading] = []
    for i, line in enumerate(lines):
        if (
            line[:1].isupper()
            and starts[i] not in taken
            and _isolated(lines, i)
            and _rfc_title_ok(line.rstrip())
        ):
            stripped = line.rstrip()
            extra.append(Heading(_title_of(stripped), NUMBERED + 1, starts[i], stripped))
    return extra


def _mostly_indented(lines: Sequence[str]) -> bool:
    """Whether more non-blank lines are indented than start at column 0 (the RFC body)."""
    indented = sum(1 for line in lines if line[:1] in (" ", "\t") and not line.isspace())
    flush = sum(1 for line in lines if line[:1] not in ("", " ", "\t"))
    return indented > flush


def _rfc_title_ok(line: str) -> bool:
    """A short title-like line with no column gaps and no sentence ending."""
    return len(line) <= 60 and "  " not in line and line[-1] not in _TERMINAL


def _isolated(lines: Sequence[str], i: int) -> bool:
    """Blank lines (or the text's edge) on both sides of line ``i``."""
    return _blank_before(lines, i) and _blank_after(lines, i)


def _blank_before(lines: Sequence[str], i: int) -> bool:
    """Line ``i`` is the first line or follows a blank line."""
    return i == 0 or not lines[i - 1].strip()


def _blank_after(lines: Sequence[str], i: int) -> bool:
    """Line ``i`` is the last line or precedes a blank line."""
    return i + 1 >= len(lines) or not lines[i + 1].strip()


def _title_of(stripped: str) -> str:
    """The title shown for a text heading: the line, or a marker line's inner text."""
    marker = _MARKER.fullmatch(stripped)
    if marker is not None:
        return marker.group("title").strip()
    return " ".join(stripped.split())


def _resolve_matter(found: list[Heading]) -> list[Heading]:
    """Place front/back matter beside the highest of VOLUME/BOOK/PART present (else CHAPTER)."""
    tops = [h.level for h in found if h.level in (VOLUME, BOOK, PART)]
    level = min(tops) if tops else CHAPTER
    return [replace(h, level=level) if h.level == MATTER else h for h in found]
