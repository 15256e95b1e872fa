"""Reading HTML: readable text, and the headings h1–h6 with offsets into that text.

The text is what a reader sees in the page body: block elements (paragraphs,
list items, table rows, …) start new lines, blocks such as paragraphs, lists
and tables are separated by a blank line, table cells by a tab, and ``<pre>``
is kept verbatim. ``<head>``, ``script``, ``style``, ``noscript``,
``template``, ``svg``, ``iframe``, ``object``, ``select`` and ``button`` are
dropped, and so is navigation: ``<nav>``, ``role="navigation"``, and elements
whose id or class names them as navigation (``sidebar``, ``toc``, ``nav``,
``menu``, ``breadcrumb``) when most of their text is links. So a sidebar that
repeats every section title neither duplicates the sections in the text nor
adds headings.

Each heading is one line of the text (its title, markup removed). Levels are
the ranks of the heading tags present: a page using only ``<h2>`` and
``<h3>`` gets levels 1 and 2.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PageElement, PreformattedString, Tag

from segue.docs._formats_text import LineBuilder
from segue.docs.model import Heading

_DROPPED = frozenset(
    {
        "head", "script", "style", "noscript", "template", "svg", "iframe", "object", "select",
        "button",
    }
)  # fmt: skip
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_PARAGRAPHS = frozenset(
    {
        "address", "article", "aside", "blockquote", "details", "dl", "fieldset", "figure",
        "footer", "form", "header", "hr", "main", "ol", "p", "section", "table", "ul",
    }
)  # fmt: skip
_LINES = frozenset(
    {
        "body", "caption", "center", "dd", "dialog", "dir", "div", "dt", "figcaption", "frameset",
        "hgroup", "html", "legend", "li", "menu", "nav", "option", "summary", "tbody", "tfoot",
        "thead", "tr",
    }
)  # fmt: skip
_CELLS = frozenset({"td", "th"})
_NEVER_NAVIGATION = frozenset({"html", "body", "main", "article"})
_NAVIGATION_NAME = re.compile(
    r"(?:^|[-_])(?:nav|navbar|navigation|sidebar|toc|menu|breadcrumbs?)(?:$|[-_])", re.IGNORECASE
)
_MIN_LINK_SHARE = 0.5
_CELL = "\x1f"  # marks a cell boundary in the line buffer until the line is flushed
_HTML_SPACE = re.compile("[ \t\n\r\f\v]+")
_CELL_SPACE = re.compile(f" ?{_CELL}+ ?")
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([a-zA-Z0-9._:-]+)", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"\s*<\?xml[^>]*>")
_SNIFF_BYTES = 4096


def declared_charset(data: bytes) -> str | None:
    """The charset named by a ``<meta charset>`` in the first 4 KB, if any."""
    found = _META_CHARSET.search(data[:_SNIFF_BYTES])
    return found.group(1).decode("ascii") if found else None


def read_html(markup: str) -> tuple[str, tuple[Heading, ...]]:
    """Turn decoded HTML into normalized text and its headings.

    Args:
        markup: The HTML, already decoded.

    Returns:
        The text and the headings found in it, in document order.
    """
    if "<" not in markup:
        builder = LineBuilder()
        builder.verbatim(markup)
        return builder.build()
    markup = _XML_DECLARATION.sub("", markup, count=1)  # XHTML: the parser needs no prolog
    soup = BeautifulSoup(markup, "lxml")
    walker = _Walker(_navigation(soup))
    walker.run(soup)
    return walker.out.build()


def _navigation(soup: BeautifulSoup) -> set[int]:
    """The ids (``id()``) of the elements that are navigation, not content."""
    return {
        id(tag)
        for tag in soup.find_all(True)
        if tag.name not in _NEVER_NAVIGATION and _is_navigation(tag)
    }


def _is_navigation(tag: Tag) -> bool:
    if tag.name == "nav" or "navigation" in str(tag.get("role", "")).split():
        return True
    names = [str(tag.get("id", "")), *_classes(tag)]
    return any(_NAVIGATION_NAME.search(name) for name in names) and _mostly_links(tag)


def _classes(tag: Tag) -> list[str]:
    value = tag.get("class")
    if value is None:
        return []
    return value.split() if isinstance(value, str) else [str(v) for v in value]


def _mostly_links(tag: Tag) -> bool:
    """Whether links hold at least half of the element's visible characters."""
    total = _visible_length(tag.get_text())
    links = sum(_visible_length(a.get_text()) for a in tag.find_all("a"))
    return total > 0 and links >= _MIN_LINK_SHARE * total


def _visible_length(text: str) -> int:
    return len(text) - sum(1 for c in text if c.isspace())


def _is_text(node: PageElement) -> bool:
    """Text a reader sees: not a comment, doctype, CDATA or processing instruction."""
    return isinstance(node, NavigableString) and not isinstance(node, PreformattedString)


class _Walker:
    """Walks the tree once, without recursion, writing lines and headings."""

    def __init__(self, skip: set[int]) -> None:
        self.out = LineBuilder()
        self.skip = skip
        self.buffer: list[str] = []
        self.heading: Tag | None = None

    def run(self, root: Tag) -> None:
        """Visit every node under ``root`` in document order."""
        stack: list[tuple[PageElement, bool]] = [(root, True)]
        while stack:
            node, entering = stack.pop()
            if not isinstance(node, Tag):
                if _is_text(node):
                    self.buffer.append(str(node))
            elif not entering:
                self._leave(node)
            elif self._enter(node):
                stack.append((node, False))
                stack.extend((child, True) for child in reversed(node.contents))
        self._flush()

    def _enter(self, tag: Tag) -> bool:
        """Start an element; False means its content is skipped or already written."""
        if tag.name in _DROPPED or id(tag) in self.skip:
            return False
        if self.heading is not None:
            if tag.name == "br":
                self.buffer.append(" ")
            return True
        if tag.name == "pre":
            self._flush()
            self.out.blank()
            self.out.verbatim(tag.get_text().removeprefix("\n"))
            self.out.blank()
            return False
        if tag.name in _HEADINGS:
            self._flush()
            self.heading = tag
        elif tag.name == "br":
            self._flush()
        elif tag.name in _CELLS:
            self.buffer.append(_CELL)
        else:
            self._block(tag)
        return True

    def _leave(self, tag: Tag) -> None:
        if tag is self.heading:
            title, self.buffer = "".join(self.buffer), []
            self.out.heading(title, _HEADINGS[tag.name])
            self.heading = None
        elif self.heading is None:
            self._block(tag)

    def _block(self, tag: Tag) -> None:
        """At a block's start or end: end the line, and the block if it is a paragraph."""
        if tag.name in _PARAGRAPHS:
            self._flush()
            self.out.blank()
        elif tag.name in _LINES:
            self._flush()

    def _flush(self) -> None:
        """Write the buffered inline text as one line (whitespace collapsed)."""
        line = _HTML_SPACE.sub(" ", "".join(self.buffer))
        self.buffer = []
        line = _CELL_SPACE.sub("\t", line).strip(" \t")
        if line:
            self.out.line(line)
