r"""The ``upload`` step: an uploaded file's bytes become a :class:`~segue.docs.model.Document`.

:func:`read_document` finds the format, decodes and normalizes the text and,
for formats with a structure of their own (HTML, PDF, DOCX), the headings.
Every failure is a :class:`~segue.docs.model.DocumentError` whose message is
one sentence naming the file; no library exception escapes.

**The format.** The content is looked at first, then the name:

- ``%PDF-`` at the start (after any whitespace) is a PDF; a ZIP archive holding
  ``word/document.xml`` is a Word document (DOCX). The name must agree:
  ``notes.md`` holding a PDF fails with "notes.md starts with %PDF-: it is a
  PDF, not Markdown; rename it to .pdf and upload it again." Reinterpreting
  silently would hide a mistake the person can fix in a second.
- Other recognizable binary content (images, other ZIP archives such as
  .xlsx, legacy Office files such as .doc, …) fails, naming what it is.
- Anything else is text, and the extension says which kind: ``.md`` and
  ``.markdown`` are Markdown, ``.rst`` reStructuredText, ``.txt``, ``.text``
  and no extension plain text, ``.html`` and ``.htm`` HTML. Text content is not
  second-guessed: HTML in a ``.txt`` is read as plain text. ``.pdf`` or
  ``.docx`` holding text fails, and so does any other extension.

**Text** (decoding and normalization) follows the rules in
:mod:`segue.docs._formats_text`: a byte-order mark, else strict UTF-8, else
charset-normalizer on a 64 KB sample (Windows-1252 preferred for Western
text, GB18030 for any GB result); line ends become ``\n``, form feeds line
breaks, C0 controls other than tab and line end trailing spaces are removed,
and the text is NFC. Markdown, reST and plain text return ``headings=None``:
their outline is found from the text.

**HTML** is decoded by its byte-order mark, its ``<meta charset>``, or
detection, and read by :mod:`segue.docs._html` (navigation dropped,
headings h1–h6 ranked). **PDF** is read by :mod:`segue.docs._pdf` (bookmarks,
else layout). **DOCX**: paragraphs in order, one block each, table rows as
lines with tab-separated cells; headings are the paragraphs styled "Title" or
"Heading 1" to "Heading 9" (or a style based on one), their levels ranked
like HTML's, Title above Heading 1, so a document with a Title has its
Heading 1s at level 2.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from segue.docs._formats_text import LineBuilder, collapse_spaces, decode_text, normalize_text
from segue.docs._html import declared_charset, read_html
from segue.docs._pdf import read_pdf
from segue.docs.model import Document, DocumentError

__all__ = ["EXTENSIONS", "detect_format", "read_document"]

EXTENSIONS: dict[str, str] = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".rst": "rst",
    ".txt": "text",
    ".text": "text",
    "": "text",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
"""File extensions read, lower case, and the format each one means."""

_NAMES = {
    "markdown": "Markdown",
    "rst": "reStructuredText",
    "text": "plain text",
    "html": "HTML",
    "pdf": "a PDF",
    "docx": "a Word document (DOCX)",
}
_SUPPORTED = (
    "Markdown (.md), reStructuredText (.rst), plain text (.txt), HTML (.html), PDF (.pdf) "
    "or Word (.docx)"
)
_UPLOAD_SUPPORTED = f"upload {_SUPPORTED} instead"
_RESAVE = "open it in Word or LibreOffice, save it as .docx, and upload it again"
_UNPROTECT = "remove the password in Word, save it, and upload it again"
_OLE = b"\xd0\xcf\x11\xe0"
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (_OLE, "a legacy Microsoft Office file (.doc, .xls or .ppt)", _RESAVE),
    (b"{\\rtf", "a Rich Text (RTF) document", _RESAVE),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", _UPLOAD_SUPPORTED),
    (b"\xff\xd8\xff", "a JPEG image", _UPLOAD_SUPPORTED),
    (b"GIF8", "a GIF image", _UPLOAD_SUPPORTED),
    (b"II*\x00", "a TIFF image", _UPLOAD_SUPPORTED),
    (b"MM\x00*", "a TIFF image", _UPLOAD_SUPPORTED),
    (b"%!PS", "a PostScript file", _UPLOAD_SUPPORTED),
    (b"\x1f\x8b", "a gzip archive", _UPLOAD_SUPPORTED),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", _UPLOAD_SUPPORTED),
    (b"Rar!\x1a\x07", "a RAR archive", _UPLOAD_SUPPORTED),
    (b"\x7fELF", "a program (ELF executable)", _UPLOAD_SUPPORTED),
)  # fmt: skip
_ZIP_KINDS = (
    ("xl/", "an Excel workbook (.xlsx)"),
    ("ppt/", "a PowerPoint presentation (.pptx)"),
    ("content.xml", "an OpenDocument file (.odt, .ods or .odp)"),
)
_LIBRARIES = {"pdf": "pypdf", "docx": "python-docx", "html": "beautifulsoup4"}
_MAX_STYLE_DEPTH = 8


@dataclass(frozen=True, slots=True)
class _Binary:
    """Content recognized as something other than a document Segue reads."""

    what: str
    advice: str = _UPLOAD_SUPPORTED


def read_document(data: bytes, filename: str) -> Document:
    """Turn an uploaded file into normalized text and, where the format has them, headings.

    Args:
        data: The file's bytes.
        filename: The name it was uploaded under; only its last part is used,
            for the extension and in messages.

    Returns:
        The document; see :class:`~segue.docs.model.Document`.

    Raises:
        DocumentError: The file is empty, binary junk, of an unsupported
            format, not what its name says, encrypted, scanned, damaged, or in
            an encoding that cannot be detected.
    """
    name = _display_name(filename)
    if not data:
        raise DocumentError(f"{name} is empty (0 bytes): there is nothing to outline.")
    form = detect_format(data, filename)
    try:
        document = _READERS[form](data, name)
    except (DocumentError, MemoryError):
        raise
    except Exception as exc:  # any library failure means the file is damaged
        library = _LIBRARIES.get(form, type(exc).__name__)
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise DocumentError(
            f"{name} could not be read: the file looks damaged ({library}: {reason})."
        ) from exc
    if not document.text.strip():
        raise DocumentError(f"{name} contains no text: there is nothing to outline.")
    return document


def detect_format(data: bytes, filename: str) -> str:
    """The format to read ``data`` as (one of ``FORMATS``), from its content and its name.

    Raises:
        DocumentError: The content is not a supported format, or does not match the name.
    """
    name = _display_name(filename)
    extension = PurePosixPath(name).suffix.lower()
    named = EXTENSIONS.get(extension)
    found = _sniff(data, extension)
    if isinstance(found, _Binary):
        raise DocumentError(f"{name} is {found.what}, which Segue cannot read; {found.advice}.")
    if found is not None:
        if named != found:
            raise DocumentError(_misnamed(name, found, named, extension))
        return found
    if named is None:
        raise DocumentError(
            f"{name} has the extension {extension}, which Segue does not read; {_UPLOAD_SUPPORTED}."
        )
    if named == "pdf":
        raise DocumentError(
            f"{name} is named .pdf but does not start with %PDF-: it is not a PDF, "
            "or it is damaged."
        )
    if named == "docx":
        raise DocumentError(
            f"{name} is named .docx but is not a Word document (a .docx file is a ZIP "
            "archive): it is damaged or not a Word file."
        )
    return named


def _display_name(filename: str) -> str:
    return PurePosixPath(filename.replace("\\", "/")).name or "The file"


def _sniff(data: bytes, extension: str) -> str | _Binary | None:
    """``"pdf"``, ``"docx"``, other binary content, or ``None`` for text."""
    head = data[:1024]
    if head.lstrip().startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(data, extension)
    if head.startswith(_OLE) and extension == ".docx":
        # Word stores a password-protected .docx in the legacy container
        return _Binary("a password-protected Word document", _UNPROTECT)
    for signature, what, advice in _SIGNATURES:
        if head.startswith(signature):
            return _Binary(what, advice)
    return None


def _sniff_zip(data: bytes, extension: str) -> str | _Binary:
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        # a damaged .docx is reported as damaged by the reader; anything else is a ZIP
        return "docx" if extension == ".docx" else _Binary("a ZIP archive")
    if "word/document.xml" in names:
        return "docx"
    for prefix, what in _ZIP_KINDS:
        if any(n.startswith(prefix) for n in names):
            return _Binary(what)
    if extension == ".docx":  # a ZIP, but no Word document inside
        return _Binary(
            "a ZIP archive without a Word document inside (no word/document.xml)", _RESAVE
        )
    return _Binary("a ZIP archive")


def _misnamed(name: str, found: str, named: str | None, extension: str) -> str:
    claimed = _NAMES[named] if named is not None else f"a {extension} file"
    if found == "pdf":
        return (
            f"{name} starts with %PDF-: it is a PDF, not {claimed}; rename it to .pdf "
            "and upload it again."
        )
    return (
        f"{name} is a Word document (DOCX), not {claimed}; rename it to .docx and upload it again."
    )


def _text_reader(form: str) -> Callable[[bytes, str], Document]:
    def read(data: bytes, name: str) -> Document:
        decoded = decode_text(data, name)
        return Document(
            text=normalize_text(decoded.text),
            format=form,
            encoding=decoded.encoding,
            warnings=decoded.warnings,
        )

    return read


def _read_html(data: bytes, name: str) -> Document:
    decoded = decode_text(data, name, declared=declared_charset(data))
    text, headings = read_html(decoded.text)
    return Document(
        text=text,
        format="html",
        encoding=decoded.encoding,
        headings=headings,
        warnings=decoded.warnings,
    )


def _read_docx(data: bytes, name: str) -> Document:
    word = docx.Document(io.BytesIO(data))
    out = LineBuilder()
    for block in word.iter_inner_content():
        if isinstance(block, Paragraph):
            _add_paragraph(out, block)
        else:
            _add_table(out, block)
    text, headings = out.build()
    return Document(text=text, format="docx", headings=headings)


def _add_paragraph(out: LineBuilder, paragraph: Paragraph) -> None:
    rank = _heading_rank(paragraph)
    if rank is None:
        out.line(paragraph.text)
        out.blank()
    else:
        out.heading(paragraph.text, rank)


def _add_table(out: LineBuilder, table: Table) -> None:
    """One line per row, cells separated by tabs (a merged cell once)."""
    out.blank()
    for row in table.rows:
        cells = dict.fromkeys(row.cells)  # a merged cell repeats once per grid column
        out.line("\t".join(collapse_spaces(cell.text) for cell in cells))
    out.blank()


def _heading_rank(paragraph: Paragraph) -> int | None:
    """0 for Title, N for Heading N (or a style based on them), None for body text."""
    style = paragraph.style
    for _ in range(_MAX_STYLE_DEPTH):
        if style is None:
            return None
        name = (style.name or "").strip().casefold()
        if name == "title":
            return 0
        if name.startswith("heading") and name[7:].strip().isdigit():
            return int(name[7:].strip())
        style = style.base_style
    return None


_READERS: dict[str, Callable[[bytes, str], Document]] = {
    "markdown": _text_reader("markdown"),
    "rst": _text_reader("rst"),
    "text": _text_reader("text"),
    "html": _read_html,
    "pdf": read_pdf,
    "docx": _read_docx,
}
