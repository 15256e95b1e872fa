"""Draft a document's outline from its structure, without any network call.

:func:`draft_outline` is the structure-based method of the pipeline's
``abstract`` step. When the reader already found headings (HTML ``h1``–``h6``,
PDF bookmarks or layout, DOCX heading styles) it returns them; otherwise it
finds them in the text by format:

- Markdown (:mod:`segue.docs._markdown`): ATX and setext headings, never inside
  code, HTML blocks or front matter; titles rendered as plain text.
- reStructuredText (:mod:`segue.docs._rst`): section titles, levels in order of
  first appearance of each adornment style.
- Everything else (:mod:`segue.docs._text`): numbered headings, ``CHAPTER``/
  ``BOOK``-style lines, Chinese chapter and enumeration patterns, marker lines.

Whatever the source, levels are then ranks: 1 is the top level present in this
document and no level is deeper than 6. An outline is meant to be read and
edited by a person, so when more than ``max_headings`` headings are found only
the top levels that fit are kept, with a warning saying so. An outline with no
headings is valid: the whole document is then one section.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from segue.docs import _markdown, _rst, _text
from segue.docs.model import Document, Heading, Outline

__all__ = ["DEFAULT_MAX_HEADINGS", "MAX_LEVEL", "NO_HEADINGS", "draft_outline"]

DEFAULT_MAX_HEADINGS = 2000
"""The most headings an outline keeps: about forty printed pages of titles, still
reviewable by a person. War and Peace has 382, RFC 2616 261."""

MAX_LEVEL = 6
"""The deepest level of an outline (as in HTML's ``h6``)."""

NO_HEADINGS = "No headings found; the whole document is one section."
"""The warning of an outline without headings."""

Finder = Callable[[str], tuple[list[Heading], list[str]]]
"""Finds headings in normalized text: (headings with raw levels, warnings)."""

_FINDERS: dict[str, tuple[Finder, str]] = {
    "markdown": (_markdown.find_headings, "markdown-structure"),
    "rst": (_rst.find_headings, "rst-structure"),
}
_TEXT_FINDER: tuple[Finder, str] = (_text.find_headings, "text-structure")


def draft_outline(
    doc: Document,
    *,
    method: str | None = None,
    max_headings: int = DEFAULT_MAX_HEADINGS,
) -> Outline:
    """Draft the outline of a read document from its structure.

    Args:
        doc: The document, as read by :mod:`segue.docs.formats`.
        method: What to call the method when ``doc.headings`` is given (e.g.
            ``"pdf-bookmarks"``); defaults to ``f"{doc.format}-structure"``.
            Ignored when the headings are found in the text.
        max_headings: Keep at most this many headings, dropping the deepest
            levels first (see :data:`DEFAULT_MAX_HEADINGS`).

    Returns:
        The headings in document order with levels ranked from 1, how they
        were found, and the reader's warnings followed by this step's own.
    """
    notes: list[str] = []
    if doc.headings is not None:
        found, name = list(doc.headings), method or f"{doc.format}-structure"
    else:
        finder, name = _FINDERS.get(doc.format, _TEXT_FINDER)
        found, notes = finder(doc.text)
    ranked, rank_notes = _rank(found)
    kept, cap_notes = _cap(ranked, max_headings)
    warnings = [*doc.warnings, *notes, *rank_notes, *cap_notes]
    if not kept:
        warnings.append(NO_HEADINGS)
    return Outline(headings=tuple(kept), method=name, warnings=tuple(warnings))


def _rank(headings: Sequence[Heading]) -> tuple[list[Heading], list[str]]:
    """Replace raw levels by their rank among the levels present, 1 to :data:`MAX_LEVEL`."""
    distinct = sorted({h.level for h in headings})
    rank = {level: min(i + 1, MAX_LEVEL) for i, level in enumerate(distinct)}
    ranked = [
        h if h.level == rank[h.level] else Heading(h.title, rank[h.level], h.offset, h.anchor)
        for h in headings
    ]
    notes = []
    if len(distinct) > MAX_LEVEL:
        notes.append(
            f"The headings nest {len(distinct)} levels deep; "
            f"those below level {MAX_LEVEL} are shown at level {MAX_LEVEL}."
        )
    return ranked, notes


def _cap(headings: list[Heading], max_headings: int) -> tuple[list[Heading], list[str]]:
    """Keep the top levels whose headings fit in ``max_headings``; say what was dropped."""
    if len(headings) <= max_headings:
        return headings, []
    counts = Counter(h.level for h in headings)
    depth, total = 0, 0
    for level in sorted(counts):
        if total + counts[level] > max_headings:
            break
        depth, total = level, total + counts[level]
    if depth == 0:
        kept = [h for h in headings if h.level == 1][:max_headings]
        note = f"only the first {max_headings} top-level headings were kept"
    else:
        kept = [h for h in headings if h.level <= depth]
        note = f"only levels 1 to {depth} were kept ({len(kept)} headings)"
    return kept, [
        f"{len(headings)} headings were found, more than {max_headings}; "
        f"{note} so the outline stays editable."
    ]
