"""Reading PDF with pypdf: the pages' text in order, and the headings.

The text is pypdf's plain extraction of each page, normalized (ligatures
folded), pages one after another; ``Document.pages`` holds where each starts.
pypdf follows the content stream, so a two-column page reads column by column.

Headings come from the bookmarks (the PDF outline) when there are any: the
title is the bookmark's, the level its nesting depth. Each is looked for in
the text of the page it points to (then the next page), ignoring case,
whitespace, hyphens and accents, preferring a match at the start of a line;
the anchor is the line where it was found. A bookmark that cannot be found is
put at the start of its page, with a warning.

Without bookmarks, headings come from the layout: a line is a heading when it
is short, has a letter, does not end like a sentence (``.``, ``,``, ``;``,
``:``) and its font says so. "Body" is the font size that most characters
use; a line qualifies when its size is at least :data:`LARGE_RATIO` times the
body, or :data:`SIZED_RATIO` times and it is bold or numbered (``4.1 …``), or
body size, bold and numbered. Numbering alone never makes a heading (code
listings number their lines). Bold body-size lines without numbers count only
when nothing else does. Page numbers and running heads are never headings:
a page's first or last line is a running head when the same text, numbers
aside, is on several pages, or when it starts or ends with a number that grows
with the page ("1 Introduction 7"), unless its font is large enough to be a
heading by size alone. A heading wrapped over two lines becomes one. Levels
come from the heading styles, ranked larger first and bold before regular: a
heading nests under the last heading of a higher rank, so its level is its
depth in that tree (no level is skipped).
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from pypdf import PageObject, PasswordType, PdfReader
from pypdf.errors import DependencyError
from pypdf.generic import Destination

from segue.docs._formats_text import collapse_spaces, normalize_text, unify_breaks
from segue.docs.model import Document, DocumentError, Heading

LARGE_RATIO = 1.25
"""A line this many times the body size is a heading by size alone."""

SIZED_RATIO = 1.1
"""A line this many times the body size is a heading if it is also bold or numbered."""

MAX_HEADING_CHARS = 90
"""Longer lines are prose, whatever their font."""

_BOLD_FONT = re.compile(r"bold|semibold|demi|heavy|black|simhei|heiti|cmbx|sfbx", re.IGNORECASE)
_MONO_FONT = re.compile(r"mono|courier|consol|typewriter|cmtt|lmtt|code", re.IGNORECASE)
_BOLD_WEIGHT = 600
_BOLD_SHARE = 0.8
_NUMBERED = re.compile(r"\d{1,2}(?:\.\d{1,2})*\.?\s+\S")
_ROMAN = r"m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"
_PAGE_NUMBER = re.compile(
    rf"(?:page\s+|seite\s+|-\s*)?(?:\d+|{_ROMAN})(?:\s*(?:/|of|von)\s*\d+)?(?:\s*-)?",
    re.IGNORECASE,
)
_SENTENCE_END = tuple(".,;:。，；：")
_RUNNING_EDGES = re.compile(r"^[\d\s.]+|[\d\s.]+$")
_LEADING_NUMBER = re.compile(r"(\d{1,4})\b")
_TRAILING_NUMBER = re.compile(r"\b(\d{1,4})$")
# hyphens, dashes, the soft hyphen, and spacing accents (pdfTeX text often shows "R¨ aume")
_IGNORED_IN_MATCH = frozenset(
    "-\u2010\u2011\u2012\u2013\u2014\u00ad\u00a8\u00b4`^\u02dc\u00b8\u02da\u02c7\u02d8\u02d9\u02dd"
)
_MAX_LISTED_PAGES = 10

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Bookmark:
    title: str
    level: int
    page: int | None


@dataclass(frozen=True, slots=True)
class _Line:
    """One line of a page's text and the font most of its characters use."""

    text: str
    size: float
    bold: bool
    mono: bool


@dataclass(frozen=True, slots=True)
class _Fragment:
    """A piece of text as pypdf shows it, with its font."""

    text: str
    size: float
    bold: bool
    mono: bool


@dataclass(frozen=True, slots=True)
class _Pages:
    """The pages' texts and where each starts in the document text."""

    texts: tuple[str, ...]
    starts: tuple[int, ...]
    text: str


def read_pdf(data: bytes, name: str) -> Document:
    """Read a PDF's text and headings (see the module docstring).

    Raises:
        DocumentError: The PDF is encrypted, has no pages, or has no text.
    """
    reader = _open(data, name)
    bookmarks, warnings = _bookmarks(reader, name)
    if bookmarks:
        texts, failed = _each_page(reader, name, _plain_text)
        pages = _assemble(texts, name)
        headings, more = _locate_bookmarks(bookmarks, pages, name)
    else:
        styled, failed = _each_page(reader, name, _styled_lines)
        pages = _assemble(["\n".join(line.text for line in lines or []) for lines in styled], name)
        headings, more = _layout_headings(styled, pages, name)
    return Document(
        text=pages.text,
        format="pdf",
        headings=headings,
        pages=pages.starts,
        warnings=(*warnings, *failed, *_empty_pages(pages, name), *more),
    )


def _open(data: bytes, name: str) -> PdfReader:
    """Open the PDF; decrypt it if it only has an owner password."""
    encrypted = DocumentError(
        f"{name} is an encrypted PDF that Segue cannot open; remove the password "
        "(print or export it to an unencrypted PDF) and upload it again."
    )
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise encrypted
    except DependencyError as exc:  # AES without the optional cryptography package
        raise encrypted from exc
    if not reader.pages:
        raise DocumentError(f"{name} has no pages: the file looks damaged.")
    return reader


def _each_page(
    reader: PdfReader, name: str, read: Callable[[PageObject], T]
) -> tuple[list[T | None], list[str]]:
    """``read`` each page; a page that fails is missing (with a warning) unless all fail."""
    results: list[T | None] = []
    warnings: list[str] = []
    first_error: Exception | None = None
    for number, page in enumerate(reader.pages, start=1):
        try:
            results.append(read(page))
        except Exception as exc:  # pypdf raises many kinds; one bad page is not fatal
            first_error = first_error or exc
            results.append(None)
            warnings.append(
                f"Page {number} of {name} could not be read (pypdf: {_reason(exc)}); "
                "its text is missing."
            )
    if first_error is not None and len(warnings) == len(results):
        raise first_error
    return results, warnings


def _reason(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def _plain_text(page: PageObject) -> str:
    return unify_breaks(page.extract_text())


def _assemble(texts: Iterable[str | None], name: str) -> _Pages:
    """Normalize the pages' texts, end each with a line break, and find where each starts."""
    normalized = [normalize_text(text or "", fold_ligatures=True) for text in texts]
    if not any(text.strip() for text in normalized):
        raise DocumentError(
            f"{name} has no text layer (it looks scanned): it needs OCR, which Segue "
            "does not do; upload a PDF with selectable text."
        )
    normalized = [text if not text or text.endswith("\n") else text + "\n" for text in normalized]
    starts, position = [], 0
    for text in normalized:
        starts.append(position)
        position += len(text)
    return _Pages(tuple(normalized), tuple(starts), "".join(normalized))


def _empty_pages(pages: _Pages, name: str) -> tuple[str, ...]:
    empty = [str(n) for n, text in enumerate(pages.texts, start=1) if not text.strip()]
    if not empty:
        return ()
    listed = ", ".join(empty[:_MAX_LISTED_PAGES]) + (
        ", …" if len(empty) > _MAX_LISTED_PAGES else ""
    )
    if len(empty) == 1:
        return (f"Page {listed} of {name} has no text layer (scanned?), so its text is missing.",)
    return (f"Pages {listed} of {name} have no text layer (scanned?), so their text is missing.",)


# --- bookmarks -------------------------------------------------------------------------------


def _bookmarks(reader: PdfReader, name: str) -> tuple[list[_Bookmark], tuple[str, ...]]:
    """The outline flattened in order; a broken outline is ignored, with a warning."""
    found: list[_Bookmark] = []
    try:
        _flatten(reader, reader.outline, 1, found)
    except Exception as exc:  # a damaged outline should not cost the text
        return [], (
            f"The bookmarks of {name} could not be read (pypdf: {_reason(exc)}); "
            "its headings were found from the layout instead.",
        )
    return found, ()


def _flatten(reader: PdfReader, items: Sequence[Any], depth: int, found: list[_Bookmark]) -> None:
    for item in items:
        if isinstance(item, list):
            _flatten(reader, item, depth + 1, found)
        elif isinstance(item, Destination):
            title = collapse_spaces(normalize_text(str(item.title or "")))
            if title:
                found.append(_Bookmark(title, min(depth, 6), _page_of(reader, item)))


def _page_of(reader: PdfReader, item: Destination) -> int | None:
    try:
        page = reader.get_destination_page_number(item)
    except Exception:  # an unresolvable destination: placed after the previous heading
        return None
    return page if page is not None and 0 <= page < len(reader.pages) else None


def _locate_bookmarks(
    bookmarks: Sequence[_Bookmark], pages: _Pages, name: str
) -> tuple[tuple[Heading, ...], tuple[str, ...]]:
    """Find each bookmark in the text of its page (or the next) and make it a heading."""
    finder = _Finder(pages)
    headings: list[Heading] = []
    warnings: list[str] = []
    page, after = 0, 0
    for mark in bookmarks:
        target = mark.page if mark.page is not None else page
        after = after if target == page else pages.starts[target]
        page = target
        found = finder.find(mark.title, page, after)
        if found is None and page + 1 < len(pages.texts):
            found = finder.find(mark.title, page + 1, max(after, pages.starts[page + 1]))
        if found is None:
            found = _first_line(pages.text, pages.starts[page])
            warnings.append(
                f'The bookmark "{mark.title}" of {name} was not found on page {page + 1} or '
                f"the next; it was placed at the start of page {page + 1}."
            )
        offset, anchor = found
        headings.append(Heading(title=mark.title, level=mark.level, offset=offset, anchor=anchor))
        after = offset + len(anchor)
    # an outline out of page order still yields headings in document order
    return tuple(sorted(headings, key=lambda heading: heading.offset)), tuple(warnings)


def _first_line(text: str, start: int) -> tuple[int, str]:
    """The first non-empty line at or after ``start`` (else the last one)."""
    lines = _lines_from(text, start)
    found = next(((o, line) for o, line in lines if line.strip()), None)
    if found is None:
        found = [(o, line) for o, line in _lines_from(text, 0) if line.strip()][-1]
    offset, line = found
    return offset + len(line) - len(line.lstrip()), line.strip()


def _lines_from(text: str, start: int) -> Iterable[tuple[int, str]]:
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        yield start, text[start:end]
        start = end + 1


@lru_cache(maxsize=4096)
def _fold(char: str) -> str:
    """A character as matching sees it: no case, accents, whitespace or hyphens."""
    if char.isspace() or char in _IGNORED_IN_MATCH:
        return ""
    kept = (c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return "".join(kept).casefold()


class _Finder:
    """Tolerant search for titles in the pages' text, each page folded once."""

    def __init__(self, pages: _Pages) -> None:
        self.pages = pages
        self.folded: dict[int, tuple[str, list[int]]] = {}

    def find(self, title: str, page: int, after: int) -> tuple[int, str] | None:
        """Where ``title`` is on ``page`` at or after ``after``: its line's offset and text."""
        needle = "".join(_fold(c) for c in title)
        if not needle:
            return None
        text, start = self.pages.texts[page], self.pages.starts[page]
        folded, where = self._folded(page)
        hits = _occurrences(folded, needle, bisect_left(where, after - start))
        positions = [where[i] for i in hits]
        best = next((p for p in positions if _at_line_start(text, p)), None)
        if best is None and positions:
            best = positions[0]
        if best is None:
            return None
        line_start = text.rfind("\n", 0, best) + 1
        line_end = text.find("\n", best)
        line = text[line_start : len(text) if line_end < 0 else line_end]
        return start + line_start + len(line) - len(line.lstrip()), line.strip()

    def _folded(self, page: int) -> tuple[str, list[int]]:
        if page not in self.folded:
            chars: list[str] = []
            where: list[int] = []
            for index, char in enumerate(self.pages.texts[page]):
                for folded in _fold(char):
                    chars.append(folded)
                    where.append(index)
            self.folded[page] = ("".join(chars), where)
        return self.folded[page]


def _occurrences(haystack: str, needle: str, start: int) -> list[int]:
    found = []
    index = haystack.find(needle, start)
    while index >= 0:
        found.append(index)
        index = haystack.find(needle, index + 1)
    return found


def _at_line_start(text: str, index: int) -> bool:
    while index > 0 and text[index - 1] in " \t":
        index -= 1
    return index == 0 or text[index - 1] == "\n"


# --- layout ----------------------------------------------------------------------------------


def _styled_lines(page: PageObject) -> list[_Line]:
    """The page's lines, as pypdf extracts them, each with its dominant font."""
    fragments: list[_Fragment] = []

    def visit(text: Any, cm: Any, tm: Any, font: Any, size: Any) -> None:
        if text:
            font_name = str(font.get("/BaseFont", "")) if hasattr(font, "get") else ""
            fragments.append(
                _Fragment(
                    unify_breaks(str(text)),
                    float(size) * _scale(cm, tm),
                    _bold(font, font_name),
                    _MONO_FONT.search(font_name) is not None,
                )
            )

    page.extract_text(visitor_text=visit)
    return _group_lines(fragments)


def _scale(cm: Sequence[float], tm: Sequence[float]) -> float:
    """The vertical scale of the text rendering matrix (text matrix times CTM)."""
    c = tm[2] * cm[0] + tm[3] * cm[2]
    d = tm[2] * cm[1] + tm[3] * cm[3]
    return math.hypot(c, d) or 1.0


def _bold(font: Any, font_name: str) -> bool:
    if _BOLD_FONT.search(font_name):
        return True
    if not hasattr(font, "get"):
        return False
    reference = font.get("/FontDescriptor")
    if reference is None:
        return False
    descriptor = reference.get_object()
    weight = descriptor.get("/FontWeight", 0) if hasattr(descriptor, "get") else 0
    return isinstance(weight, int | float) and weight >= _BOLD_WEIGHT


def _group_lines(fragments: Iterable[_Fragment]) -> list[_Line]:
    """Join fragments into lines; each line takes the font most of its characters use."""
    lines: list[_Line] = []
    current: list[tuple[str, _Fragment]] = []
    for fragment in fragments:
        for index, piece in enumerate(fragment.text.split("\n")):
            if index:
                lines.append(_line(current))
                current = []
            current.append((piece, fragment))
    if current:
        lines.append(_line(current))
    return lines


def _line(pieces: Sequence[tuple[str, _Fragment]]) -> _Line:
    sizes: Counter[float] = Counter()
    bold = mono = total = 0
    for piece, fragment in pieces:
        weight = sum(1 for c in piece if not c.isspace())
        sizes[round(fragment.size * 2) / 2] += weight
        bold += weight if fragment.bold else 0
        mono += weight if fragment.mono else 0
        total += weight
    size = sizes.most_common(1)[0][0] if sizes else 0.0
    text = normalize_text("".join(piece for piece, _ in pieces), fold_ligatures=True)
    is_bold = total > 0 and bold >= _BOLD_SHARE * total
    return _Line(text, size, is_bold, total > 0 and mono * 2 > total)


def _layout_headings(
    styled: Sequence[list[_Line] | None], pages: _Pages, name: str
) -> tuple[tuple[Heading, ...], tuple[str, ...]]:
    """Headings from font size and weight (see the module docstring)."""
    by_page = [lines or [] for lines in styled]
    body = _body_size(line for lines in by_page for line in lines)
    running = _running_heads(by_page)
    strong: list[tuple[int, int]] = []
    weak: list[tuple[int, int]] = []
    for p, lines in enumerate(by_page):
        for i, line in enumerate(lines):
            # a large line at the top of a page is a chapter title, not a running head
            repeated = (p, i) in running and line.size < LARGE_RATIO * body
            cue = _cue(line, body) if _plausible(line.text, repeated) else 0
            if cue == 2:
                strong.append((p, i))
            elif cue == 1:
                weak.append((p, i))
    chosen = strong or weak
    if not chosen:
        return (), (
            f"No headings were found in {name}: it has no bookmarks, and no line is set in "
            "a larger or bold font.",
        )
    return _headings_at(_merge_wrapped(chosen, by_page), by_page, pages), ()


def _body_size(lines: Iterable[_Line]) -> float:
    """The size most characters use, code (monospaced fonts) aside."""
    sizes: Counter[float] = Counter()
    for line in lines:
        if not line.mono:
            sizes[line.size] += len(line.text)
    common = sizes.most_common(1)
    return common[0][0] if common and common[0][0] > 0 else 1.0


def _cue(line: _Line, body: float) -> int:
    """2 for a heading, 1 for a bold body-size line (a heading if nothing else is), else 0."""
    ratio = line.size / body
    numbered = _NUMBERED.match(line.text.strip()) is not None
    if ratio >= LARGE_RATIO or (ratio >= SIZED_RATIO and (line.bold or numbered)):
        return 2
    if ratio >= 0.95 and line.bold:
        return 2 if numbered else 1
    return 0


def _plausible(text: str, running: bool) -> bool:
    """Whether a line could be a heading at all, whatever its font."""
    text = text.strip()
    return (
        not running
        and 0 < len(text) <= MAX_HEADING_CHARS
        and any(c.isalpha() for c in text)
        and not text.endswith(_SENTENCE_END)
        and _PAGE_NUMBER.fullmatch(text) is None
    )


def _running_heads(by_page: Sequence[Sequence[_Line]]) -> set[tuple[int, int]]:
    """The (page, line) of first and last lines that are running heads, footers or page numbers.

    Such a line has the same text, numbers aside, on several pages, or starts or
    ends with a number that grows with the page number.
    """
    groups: dict[object, list[tuple[int, int]]] = {}
    for p, lines in enumerate(by_page):
        filled = [i for i, line in enumerate(lines) if line.text.strip()]
        for i in {filled[0], filled[-1]} if filled else ():
            text = lines[i].text.strip()
            key = _RUNNING_EDGES.sub("", text).casefold()
            if key:
                groups.setdefault(key, []).append((p, i))
            for side, number in enumerate(_edge_numbers(text)):
                if number is not None:
                    groups.setdefault((side, p - number), []).append((p, i))
    by_text = 2 if len(by_page) <= 5 else 3
    return {
        spot
        for key, spots in groups.items()
        if len(spots) >= (by_text if isinstance(key, str) else 3)
        for spot in spots
    }


def _edge_numbers(text: str) -> tuple[int | None, int | None]:
    """The number a line starts with and the number it ends with, if any."""
    first = _LEADING_NUMBER.match(text)
    last = _TRAILING_NUMBER.search(text)
    return (int(first.group(1)) if first else None, int(last.group(1)) if last else None)


def _merge_wrapped(
    chosen: Sequence[tuple[int, int]], by_page: Sequence[Sequence[_Line]]
) -> list[tuple[int, int, str]]:
    """(page, line, title) per heading; a heading's unnumbered next line in its style joins it."""
    merged: list[tuple[int, int, str]] = []
    previous: tuple[int, int] | None = None
    for p, i in chosen:
        line = by_page[p][i]
        if previous == (p, i - 1) and merged and _continues(by_page[p][i - 1], line, merged[-1][2]):
            merged[-1] = (merged[-1][0], merged[-1][1], f"{merged[-1][2]} {line.text.strip()}")
        else:
            merged.append((p, i, line.text.strip()))
        previous = (p, i)
    return merged


def _continues(first: _Line, second: _Line, title: str) -> bool:
    return (
        (first.size, first.bold) == (second.size, second.bold)
        and _NUMBERED.match(second.text.strip()) is None
        and len(title) + len(second.text.strip()) < MAX_HEADING_CHARS
    )


def _headings_at(
    merged: Sequence[tuple[int, int, str]], by_page: Sequence[Sequence[_Line]], pages: _Pages
) -> tuple[Heading, ...]:
    """Headings with offsets; levels rank the styles, larger first, bold before regular."""
    styles = [(by_page[p][i].size, by_page[p][i].bold) for p, i, _ in merged]
    order = sorted(set(styles), key=lambda style: (-style[0], not style[1]))
    levels = _tree_levels([order.index(style) for style in styles])
    headings = []
    for (p, i, title), level in zip(merged, levels, strict=True):
        line_start = pages.starts[p] + sum(len(line.text) + 1 for line in by_page[p][:i])
        raw = by_page[p][i].text
        offset = line_start + len(raw) - len(raw.lstrip())
        headings.append(Heading(title=title, level=level, offset=offset, anchor=raw.strip()))
    return tuple(headings)


def _tree_levels(ranks: Sequence[int]) -> list[int]:
    """Levels as depths in the tree the ranks make: a heading nests under the last higher one.

    Ranking styles alone leaves gaps (a title style used once sits between
    chapters and sections); depth does not.
    """
    levels: list[int] = []
    open_ranks: list[int] = []
    for rank in ranks:
        while open_ranks and open_ranks[-1] >= rank:
            open_ranks.pop()
        open_ranks.append(rank)
        levels.append(min(len(open_ranks), 6))
    return levels
