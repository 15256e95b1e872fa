"""Shapes shared by the document modules: a read document, a heading, an outline."""

from __future__ import annotations

from dataclasses import dataclass, field

from segue.errors import PermanentError

FORMATS = ("markdown", "rst", "text", "html", "pdf", "docx")
"""Formats a document can be read as."""


class DocumentError(PermanentError):
    """A document that cannot be read: empty, junk, unsupported, or not what its name says.

    The message is one plain sentence naming the file and what is wrong, e.g.
    ``"report.md starts with %PDF-: it is a PDF, not Markdown; rename it to .pdf"``.
    It is permanent: retrying the same bytes cannot help.
    """


@dataclass(frozen=True, slots=True)
class Heading:
    """One heading found in a document.

    Attributes:
        title: The title as a reader sees it, markup removed, numbering kept
            (``"1.2 Scope"``, ``"第一章 总则"``, ``"Added"``).
        level: 1 for the top level of *this* document, 2 below it, … at most 6.
        offset: Where the heading starts in ``Document.text`` (a str index).
        anchor: The heading's line exactly as it appears in ``Document.text``
            at ``offset`` (stripped of surrounding whitespace), used to find it again.
    """

    title: str
    level: int
    offset: int
    anchor: str


@dataclass(frozen=True, slots=True)
class Document:
    """Uploaded bytes turned into normalized text.

    Attributes:
        text: The normalized text every offset refers to: newline line ends,
            no form feeds, no NUL, Unicode NFC; for PDF the pages' text in order.
        format: One of :data:`FORMATS`.
        encoding: The text encoding detected for text formats (``"utf-8"``,
            ``"gb18030"``, …); ``None`` for binary formats.
        headings: Headings the reader found from the format's own structure
            (HTML h1–h6, PDF bookmarks or layout, DOCX heading styles), in
            document order; ``None`` when the outline must be found from the
            text itself (Markdown, reST, plain text).
        pages: For PDF, the offset in ``text`` where each page starts.
        warnings: Things a person should know about the reading (plain sentences).
    """

    text: str
    format: str
    encoding: str | None = None
    headings: tuple[Heading, ...] | None = None
    pages: tuple[int, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Outline:
    """A drafted outline: the headings, how they were found, and what to know."""

    headings: tuple[Heading, ...]
    method: str
    warnings: tuple[str, ...] = field(default=())

    def as_directory(self) -> dict[str, object]:
        """The confirm step's input shape: ``{"directory": [...], "method", "warnings"}``."""
        return {
            "directory": [
                {"title": h.title, "level": h.level, "anchor": h.anchor} for h in self.headings
            ],
            "method": self.method,
            "warnings": list(self.warnings),
        }
