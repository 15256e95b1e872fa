"""Headings of reStructuredText: section titles with an underline and maybe an overline.

A title is a text line at column 0 (it may be inset when overlined) after a
blank line, with an adornment line below of one punctuation character
repeated. As in docutils, the raw level of a title is the order in which its
adornment style (character, overlined or not) first appears. Section titles
cannot live inside body elements, so indented text (literal blocks after
``::``, directive content, block quotes) never yields one; comments and
directives are skipped explicitly, and so is the RFC 822 header block of a PEP.

Tolerance: docutils wants the adornment at least as long as the title; here it
may fall short by a fifth of the title's display width (at least two columns),
because authors miscount, especially with CJK characters, which are two
columns wide. Adornments are at least three characters long.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from segue.docs._text import line_starts
from segue.docs.model import Heading

MIN_ADORNMENT = 3
"""The shortest underline or overline taken."""

_ADORNMENT = re.compile(r"([!-/:-@\[-`{-~])\1{" + str(MIN_ADORNMENT - 1) + r",}[ \t]*")
_EXPLICIT = re.compile(r"\.\.(?:[ \t]|$)")
_HEADER_FIELD = re.compile(r"[A-Za-z][\w-]*:(?:[ \t].*)?|[ \t]+\S.*")

_LITERAL = re.compile(r"``(.+?)``")
_ROLE = re.compile(r":[\w.+-]+:`([^`]*)`")
_REFERENCE = re.compile(r"`([^`]+)`(?:__?)?")
_EMBEDDED_TARGET = re.compile(r"\s*<[^<>]+>$")
_STRONG = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_EMPHASIS = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?!\*)")
_ESCAPE = re.compile(r"\\(.)")
_LITERAL_BASE = 0xF0000  # plane-15 private use: stands in for literals while markup is stripped
_LITERAL_MARK = re.compile("[\U000f0000-\U000fffff]")

Style = tuple[str, bool]
"""An adornment style: the character and whether the title is overlined."""


def find_headings(text: str) -> tuple[list[Heading], list[str]]:
    r"""Find the section titles of a reStructuredText document.

    Args:
        text: Normalized text (``\n`` line ends).

    Returns:
        The headings in document order with raw levels (order of first
        appearance of each adornment style), and warnings (none).
    """
    lines = text.split("\n")
    starts = line_starts(lines)
    styles: list[Style] = []
    found: list[Heading] = []
    i = _header_end(lines)
    previous_end = i  # a title may directly follow the previous one's underline
    while i < len(lines):
        title = _title_at(lines, i) if _blank_before(lines, i) or i == previous_end else None
        if title is None:
            i = _skip_body(lines, i)
            continue
        title_line, style, i = title
        if style not in styles:
            styles.append(style)
        stripped = lines[title_line].strip()
        found.append(
            Heading(render_inline(stripped), styles.index(style) + 1, starts[title_line], stripped)
        )
        previous_end = i
    return found, []


def _header_end(lines: Sequence[str]) -> int:
    """The line after a PEP's RFC 822 header block (``PEP: 8`` …), or 0 when there is none."""
    if len(lines) < 2 or not all(_HEADER_FIELD.fullmatch(line) for line in lines[:2]):
        return 0
    if lines[0][0] in " \t" or _ADORNMENT.fullmatch(lines[1]):
        return 0
    for j, line in enumerate(lines):
        if not line.strip():
            return j
    return len(lines)


def _title_at(lines: Sequence[str], i: int) -> tuple[int, Style, int] | None:
    """The title starting at line ``i``: (title line, style, line after it), or ``None``."""
    line = lines[i]
    if not line or line[0] in " \t" or _EXPLICIT.match(line):
        return None
    over = _ADORNMENT.fullmatch(line)
    if over is not None:
        return _overlined(lines, i, over)
    if i + 1 >= len(lines):
        return None
    under = _ADORNMENT.fullmatch(lines[i + 1])
    if under is None or not _long_enough(lines[i + 1].rstrip(), line.strip()):
        return None
    return i, (under.group(1), False), i + 2


def _overlined(lines: Sequence[str], i: int, over: re.Match[str]) -> tuple[int, Style, int] | None:
    """An overlined title whose overline is line ``i``."""
    if i + 2 >= len(lines) or not lines[i + 1].strip() or _ADORNMENT.fullmatch(lines[i + 1]):
        return None
    under = _ADORNMENT.fullmatch(lines[i + 2])
    if under is None or under.group(1) != over.group(1):
        return None
    if not _long_enough(lines[i].rstrip(), lines[i + 1].strip()):
        return None
    return i + 1, (over.group(1), True), i + 3


def _long_enough(adornment: str, title: str) -> bool:
    """Whether an adornment covers the title, give or take a fifth of its width."""
    width = display_width(title)
    return len(adornment) >= width - max(2, width // 5)


def display_width(text: str) -> int:
    """Columns ``text`` takes in a monospace font: wide and full-width characters count 2.

    Args:
        text: One line of text.

    Returns:
        The width in columns.
    """
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _skip_body(lines: Sequence[str], i: int) -> int:
    """The line after line ``i``, past any comment, directive or literal block it opens."""
    line = lines[i]
    opens_block = _EXPLICIT.match(line.lstrip()) is not None or line.rstrip().endswith("::")
    if not opens_block:
        return i + 1
    indent = len(line) - len(line.lstrip())
    j = i + 1
    while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > indent):
        j += 1
    return j


def _indent(line: str) -> int:
    """Leading whitespace of a line, in characters."""
    return len(line) - len(line.lstrip())


def _blank_before(lines: Sequence[str], i: int) -> bool:
    """Line ``i`` is the first line or follows a blank line."""
    return i == 0 or not lines[i - 1].strip()


def render_inline(text: str) -> str:
    """A title's reST source as plain text: inline markup removed, literals kept.

    Args:
        text: The title line, stripped, e.g. ``"``[[packages]]``"``.

    Returns:
        What a reader sees, e.g. ``"[[packages]]"``; whitespace collapsed.
    """
    literals: list[str] = []

    def protect(match: re.Match[str]) -> str:
        literals.append(match.group(1))
        return chr(_LITERAL_BASE + len(literals) - 1)

    text = _LITERAL.sub(protect, text)
    text = _ROLE.sub(lambda m: _EMBEDDED_TARGET.sub("", m.group(1)).lstrip("~!"), text)
    text = _REFERENCE.sub(lambda m: _EMBEDDED_TARGET.sub("", m.group(1)), text)
    text = _EMPHASIS.sub(r"\1", _STRONG.sub(r"\1", text))
    text = _ESCAPE.sub(r"\1", text)
    text = _LITERAL_MARK.sub(lambda m: literals[ord(m.group()) - _LITERAL_BASE], text)
    return " ".join(text.split())
