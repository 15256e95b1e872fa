"""Headings of Markdown: ATX and setext, never inside code, HTML or front matter.

The scanner follows CommonMark's block rules closely enough for outlines:
fenced code (``````` or ``~~~``, any length of three or more, closed by a fence
of the same character at least as long), indented code, the seven kinds of HTML
block, YAML/TOML front matter at the very top, block quotes and list items. A
heading inside a block quote or list item is part of that block, not of the
document's outline, so it is not taken. Raw levels are the ``#`` counts
(setext ``=`` is 1, ``-`` is 2).

Two deliberate departures from CommonMark, both in favour of the outline a
person expects: a paragraph of more than :data:`MAX_SETEXT_LINES` lines followed
by ``---`` is read as a paragraph and a thematic break (a writer who puts a rule
under a long paragraph does not mean a heading), and empty headings (``#``
alone) are not taken.
"""

from __future__ import annotations

import bisect
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from segue.docs._text import line_starts
from segue.docs.model import Heading

MAX_SETEXT_LINES = 3
"""The longest paragraph (in lines) an ``===``/``---`` underline turns into a heading."""

_ATX = re.compile(r"(#{1,6})(?:[ \t]+(.*))?")
_ATX_CLOSING = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_ATTRIBUTES = re.compile(r"[ \t]*\{:?[ \t]*[#.][^{}]*\}[ \t]*$")
_FENCE = re.compile(r"(`{3,}|~{3,})(.*)")
_SETEXT = re.compile(r"(=+|-+)[ \t]*")
_BREAK = re.compile(r"(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,}")
_LIST_ITEM = re.compile(r"([-+*]|(\d{1,9})[.)])(?:([ \t]+)|$)")
_FRONT_MATTER = {"---": ("---", "..."), "+++": ("+++",)}

_HTML_UNTIL = (
    (re.compile(r"<(?:pre|script|style|textarea)(?:[ \t>]|$)", re.I), "</"),
    (re.compile(r"<!--"), "-->"),
    (re.compile(r"<\?"), "?>"),
    (re.compile(r"<![A-Za-z]"), ">"),
    (re.compile(r"<!\[CDATA\["), "]]>"),
)
_HTML_RAW_END = re.compile(r"</(?:pre|script|style|textarea)>", re.I)
_HTML_BLOCK_TAG = re.compile(
    r"</?(?:address|article|aside|base|basefont|blockquote|body|caption|center|col|colgroup|"
    r"dd|details|dialog|dir|div|dl|dt|fieldset|figcaption|figure|footer|form|frame|frameset|"
    r"h[1-6]|head|header|hr|html|iframe|legend|li|link|main|menu|menuitem|nav|noframes|ol|"
    r"optgroup|option|p|param|search|section|summary|table|tbody|td|tfoot|th|thead|title|tr|"
    r"track|ul)(?:[ \t]|/?>|$)",
    re.I,
)
_HTML_LONE_TAG = re.compile(
    r"(?:<[A-Za-z][A-Za-z0-9-]*(?:[ \t]+[A-Za-z_:][\w.:-]*(?:[ \t]*=[ \t]*"
    r"(?:[^\s\"'=<>`]+|'[^']*'|\"[^\"]*\"))?)*[ \t]*/?>|</[A-Za-z][A-Za-z0-9-]*[ \t]*>)[ \t]*"
)

_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_FOOTNOTE_REF = re.compile(r"\[\^[^\]]+\]")
_IMAGE = re.compile(r"!\[([^\]]*)\](?:\((?:[^()]|\([^()]*\))*\)|\[[^\]]*\])?")
_LINK = re.compile(r"\[([^\]]*)\](?:\((?:[^()]|\([^()]*\))*\)|\[[^\]]*\])?")
_AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*|[^\s<>@]+@[^\s<>]+)>")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_EMPHASIS = (
    re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"),
    re.compile(r"(~~)(?=\S)(.+?)(?<=\S)\1"),
    re.compile(r"(?<![\w*])(\*)(?=[^\s*])(.+?)(?<=[^\s*])\*(?!\*)"),
    re.compile(r"(?<![\w_])(_)(?=[^\s_])(.+?)(?<=[^\s_])_(?![\w_])"),
)
_ESCAPED_BASE = 0xE000  # private-use code points stand in for backslash-escaped ASCII
_CODE_BASE = 0xF0000  # and, in plane 15, for code spans while markup is stripped
_MARKUP_CHAR = re.compile(r"[\\`\[\]<>*_~&]")
_BLOCK_FIRST = frozenset("#`~<=-*_+>0123456789")  # what a line opening a block starts with
_ESCAPED_MARK = re.compile("[\ue000-\ue07f]")
_CODE_MARK = re.compile("[\U000f0000-\U000fffff]")


@dataclass(slots=True)
class _Scan:
    """Where the scanner is: the open paragraph and the open list items."""

    text: str
    lines: Sequence[str]
    starts: Sequence[int]
    found: list[Heading] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    para_start: int = -1
    para_lines: int = 0
    para_plain: bool = False
    lists: list[int] = field(default_factory=list)
    after_blank: bool = True

    def open_paragraph(self, i: int, *, plain: bool) -> None:
        """Start a paragraph at line ``i``; ``plain`` when it is outside lists and quotes."""
        self.para_start, self.para_lines, self.para_plain = i, 1, plain

    def close_paragraph(self) -> None:
        """End the open paragraph, if any."""
        self.para_start, self.para_lines = -1, 0

    @property
    def in_paragraph(self) -> bool:
        """Whether a paragraph is open."""
        return self.para_start >= 0


def find_headings(text: str) -> tuple[list[Heading], list[str]]:
    r"""Find the headings of a Markdown document.

    Args:
        text: Normalized text (``\n`` line ends).

    Returns:
        The headings in document order with raw levels (``#`` counts), and
        warnings about code fences or HTML blocks that never close.
    """
    lines = text.split("\n")
    scan = _Scan(text, lines, line_starts(lines))
    i = _front_matter_end(lines)
    while i < len(lines):
        i = _step(scan, i)
    return scan.found, scan.warnings


def _front_matter_end(lines: Sequence[str]) -> int:
    """The first line after a front matter block at the top, or 0 when there is none."""
    closers = _FRONT_MATTER.get(lines[0].rstrip())
    # Like pandoc, front matter starts right below the fence, never after a blank line.
    if closers is None or len(lines) < 2 or not lines[1].strip():
        return 0
    for j in range(1, len(lines)):
        if lines[j].rstrip() in closers:
            return j + 1
    return 0


def _step(scan: _Scan, i: int) -> int:
    """Read the block that starts at line ``i``; return the line after it."""
    line = scan.lines[i]
    content = line.lstrip(" \t")
    if not content:
        scan.close_paragraph()
        scan.after_blank = True
        return i + 1
    if scan.para_start >= 0 and content[0] not in _BLOCK_FIRST:
        # Inside a paragraph, text always continues it: nested, lazy or indented.
        scan.para_lines += 1
        return i + 1
    indent = _width(line, len(line) - len(content))
    kind, match = _kind(content)
    if kind == "text" and _lazy_continuation(scan, indent):
        scan.para_lines += 1
        return i + 1
    while scan.lists and indent < scan.lists[-1]:
        scan.lists.pop()
    base = scan.lists[-1] if scan.lists else 0
    next_i = _block(scan, _Line(i, content, kind, match), indent - base, base)
    scan.after_blank = False
    return next_i


class _Line(NamedTuple):
    """One non-blank line: its row (line index), its content after the indentation, and its kind."""

    row: int
    content: str
    kind: str
    match: re.Match[str] | None


def _kind(content: str) -> tuple[str, re.Match[str] | None]:
    """What block a line would open, context aside (``"text"`` when none), with its match."""
    first = content[0]
    if first not in _BLOCK_FIRST:
        return "text", None
    if first == ">":
        return "quote", None
    if first == "#":
        atx = _ATX.fullmatch(content)
        return ("atx", atx) if atx else ("text", None)
    if first in "`~":
        fence = _FENCE.match(content)
        # A backtick fence's info string cannot hold a backtick (that is a code span).
        valid = fence is not None and not (first == "`" and "`" in fence.group(2))
        return ("fence", fence) if valid else ("text", None)
    if first == "<":
        if _html_end_marker(content, interrupting=True) is not None:
            return "html", None
        return ("lone-tag", None) if _HTML_LONE_TAG.fullmatch(content) else ("text", None)
    underline = _SETEXT.fullmatch(content) if first in "=-" else None
    if underline is not None:
        return "underline", underline
    if first in "-*_" and _BREAK.fullmatch(content):
        return "break", None
    item = _LIST_ITEM.match(content)
    return ("item", item) if item else ("text", None)


def _lazy_continuation(scan: _Scan, indent: int) -> bool:
    """Whether a text line dedented out of its list item or quote still continues its paragraph."""
    if scan.para_start < 0 or scan.para_plain or scan.after_blank:
        return False
    return not (scan.lists and indent >= scan.lists[-1])


def _block(scan: _Scan, line: _Line, rel: int, base: int) -> int:
    """Act on one line, ``rel`` columns into its container; return the next line to read."""
    kind, i = line.kind, line.row
    if rel >= 4 or kind == "text" or (kind == "lone-tag" and scan.in_paragraph):
        if rel < 4 or scan.in_paragraph:  # deep indentation outside a paragraph is code
            _paragraph_text(scan, i)
        return i + 1
    if kind in ("fence", "html", "lone-tag"):
        scan.close_paragraph()
        if line.match is not None:
            return _skip_fence(scan, i, line.match.group(1), base)
        return _skip_html(scan, i, _html_end_marker(line.content, interrupting=False) or "")
    if kind == "atx" and line.match is not None:
        _atx(scan, i, line.match)
    elif kind == "underline" and _setext(scan, line.content):
        pass
    elif kind == "break" or (kind == "underline" and _BREAK.fullmatch(line.content)):
        scan.close_paragraph()
    elif kind == "item" and line.match is not None:
        return _list_item(scan, line, line.match)
    elif kind == "quote":
        scan.open_paragraph(i, plain=False)
    else:
        _paragraph_text(scan, i)
    return i + 1


def _atx(scan: _Scan, i: int, match: re.Match[str]) -> None:
    """An ATX heading at line ``i``; taken unless it sits in a list item."""
    scan.close_paragraph()
    if not scan.lists:
        raw = (match.group(2) or "").strip()
        if "{" in raw:
            raw = _ATTRIBUTES.sub("", raw)
        if "#" in raw:
            raw = _ATX_CLOSING.sub("", raw)
        _add(scan, render_inline(raw), len(match.group(1)), i)


def _setext(scan: _Scan, underline: str) -> bool:
    """Turn the open paragraph into a setext heading; False when it cannot be one."""
    if not scan.in_paragraph or not scan.para_plain or scan.para_lines > MAX_SETEXT_LINES:
        return False
    first = scan.para_start
    text = " ".join(line.strip() for line in scan.lines[first : first + scan.para_lines])
    _add(scan, render_inline(text), 1 if underline[0] == "=" else 2, first)
    scan.close_paragraph()
    return True


def _list_item(scan: _Scan, line: _Line, item: re.Match[str]) -> int:
    """A list item opens a container; returns the next line to read."""
    i = line.row
    # An ordered item can interrupt a paragraph only when it starts at 1.
    if scan.in_paragraph and item.group(2) not in (None, "1"):
        _paragraph_text(scan, i)
        return i + 1
    column = (scan.lists[-1] if scan.lists else 0) + _item_width(item)
    scan.lists.append(column)
    scan.open_paragraph(i, plain=False)
    fence = _FENCE.match(line.content, item.end())
    if fence is not None:  # "- ```bash" opens a fence inside the item
        scan.close_paragraph()
        return _skip_fence(scan, i, fence.group(1), column)
    return i + 1


def _paragraph_text(scan: _Scan, i: int) -> None:
    """Line ``i`` is text: it continues the open paragraph or starts one."""
    if scan.in_paragraph:
        scan.para_lines += 1
    else:
        scan.open_paragraph(i, plain=not scan.lists)


def _item_width(item: re.Match[str]) -> int:
    """Columns from a list marker to its content (CommonMark: 1 to 4 spaces count)."""
    spaces = len((item.group(3) or " ").expandtabs(4))
    return len(item.group(1)) + (spaces if spaces <= 4 else 1)


def _skip_fence(scan: _Scan, i: int, opening: str, base: int) -> int:
    """The line after the fence that closes the one opened at line ``i``."""
    closing = re.compile(re.escape(opening[0]) + "{" + str(len(opening)) + r",}[ \t]*")
    lines = scan.lines
    if base == 0:  # at the top level one search over the text is enough
        return _find_closing_fence(scan, i, closing)
    for j in range(i + 1, len(lines)):
        content = lines[j].lstrip(" \t")
        if not content:
            continue
        indent = _width(lines[j], len(lines[j]) - len(content))
        if indent < base:  # the list item holding the fence ended, and the fence with it
            return j
        if indent - base <= 3 and closing.fullmatch(content):
            return j + 1
    return _unclosed_fence(scan, i)


def _find_closing_fence(scan: _Scan, i: int, closing: re.Pattern[str]) -> int:
    """The line after the top-level closing fence for line ``i``, found by one regex search."""
    anywhere = re.compile(r"^ {0,3}" + closing.pattern + "$", re.MULTILINE)
    if i + 1 < len(scan.starts):
        found = anywhere.search(scan.text, scan.starts[i + 1])
        if found is not None:
            return bisect.bisect_right(scan.starts, found.start())
    return _unclosed_fence(scan, i)


def _unclosed_fence(scan: _Scan, i: int) -> int:
    """Warn that the fence opened on line ``i`` runs to the end; return the end."""
    scan.warnings.append(
        f"The code fence opened on line {i + 1} is never closed, "
        "so nothing after it was searched for headings."
    )
    return len(scan.lines)


def _html_end_marker(content: str, *, interrupting: bool) -> str | None:
    """How the HTML block starting with ``content`` ends: a marker string, ``""`` for a blank line.

    Returns ``None`` when the line does not start an HTML block. A lone tag
    (CommonMark's kind 7) cannot interrupt a paragraph.
    """
    if content[0] != "<":
        return None
    for pattern, marker in _HTML_UNTIL:
        if pattern.match(content):
            return marker
    if _HTML_BLOCK_TAG.match(content):
        return ""
    if not interrupting and _HTML_LONE_TAG.fullmatch(content):
        return ""
    return None


def _skip_html(scan: _Scan, i: int, marker: str) -> int:
    """The line after the HTML block that starts at line ``i``."""
    lines = scan.lines
    for j in range(i, len(lines)):
        line = lines[j]
        if marker == "" and not line.strip():
            return j
        if marker == "</" and _HTML_RAW_END.search(line):
            return j + 1
        if marker not in ("", "</") and marker in line:
            return j + 1
    if marker:
        scan.warnings.append(
            f"The HTML block opened on line {i + 1} is never closed, "
            "so nothing after it was searched for headings."
        )
    return len(lines)


def _add(scan: _Scan, title: str, level: int, i: int) -> None:
    """Record a heading whose line is line ``i``; empty titles are not taken."""
    if title:
        scan.found.append(Heading(title, level, scan.starts[i], scan.lines[i].strip()))


def _width(line: str, count: int) -> int:
    """The width in columns of the first ``count`` characters (tabs stop every 4)."""
    prefix = line[:count]
    return len(prefix.expandtabs(4)) if "\t" in prefix else count


def render_inline(text: str) -> str:
    """A heading's Markdown source as plain text: markup removed, code kept literally.

    Args:
        text: The heading's inline source, e.g. ``"[2.0.0] - 2026-06-07"``.

    Returns:
        What a reader sees, e.g. ``"2.0.0 - 2026-06-07"``; whitespace collapsed.
    """
    if _MARKUP_CHAR.search(text) is None:
        return " ".join(text.split())
    escaped = _ESCAPE.sub(lambda m: chr(_ESCAPED_BASE + ord(m.group(1))), text)
    spans: list[str] = []
    protected = _CODE_SPAN.sub(lambda m: _protect_code(m, spans), escaped)
    plain = html.unescape(_strip_markup(protected))
    restored = _CODE_MARK.sub(lambda m: spans[ord(m.group()) - _CODE_BASE], plain)
    unescaped = _ESCAPED_MARK.sub(lambda m: chr(ord(m.group()) - _ESCAPED_BASE), restored)
    return " ".join(unescaped.split())


def _protect_code(match: re.Match[str], spans: list[str]) -> str:
    """Keep a code span's content aside (escapes do not apply inside it)."""
    code = _ESCAPED_MARK.sub(lambda m: "\\" + chr(ord(m.group()) - _ESCAPED_BASE), match[2])
    if len(code) > 1 and code[0] == code[-1] == " " and code.strip():
        code = code[1:-1]
    spans.append(code)
    return chr(_CODE_BASE + len(spans) - 1)


def _strip_markup(text: str) -> str:
    """Remove links, images, tags and emphasis, keeping the text they wrap."""
    text = _FOOTNOTE_REF.sub("", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _TAG.sub("", text)
    for _ in range(3):  # nested emphasis: ***a*** or **a _b_**
        before = text
        for pattern in _EMPHASIS:
            text = pattern.sub(r"\2", text)
        if text == before:
            break
    return text
