"""Reading uploads: format detection, decoding, normalization, headings, and every error sentence."""

from __future__ import annotations

import io
import os
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import docx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
)

from segue.docs.formats import detect_format, read_document
from segue.docs.model import FORMATS, Document, DocumentError

CORPUS = Path(
    os.environ.get("SEGUE_CORPUS", Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus")
)


def error(data: bytes, filename: str) -> str:
    with pytest.raises(DocumentError) as caught:
        read_document(data, filename)
    return str(caught.value)


def assert_headings_point_at_their_lines(document: Document) -> None:
    """Every heading's anchor is the whole (stripped) line of the text at its offset."""
    for heading in document.headings or ():
        start = document.text.rfind("\n", 0, heading.offset) + 1
        end = document.text.find("\n", heading.offset)
        line = document.text[start : end if end >= 0 else len(document.text)]
        assert document.text[heading.offset :].startswith(heading.anchor), heading
        assert line.strip() == heading.anchor, heading
        assert 1 <= heading.level <= 6
    offsets = [h.offset for h in document.headings or ()]
    assert offsets == sorted(offsets)


def assert_normalized(text: str) -> None:
    assert "\r" not in text and "\f" not in text and "\x00" not in text
    assert unicodedata.is_normalized("NFC", text)
    assert not any(line.endswith((" ", "\t")) for line in text.split("\n"))


# --- building PDFs ---------------------------------------------------------------------------

Line = tuple[str, float, str]  # text, font size, font key (R regular, B bold, M mono, L ligatures)


def _font(base: str, ligatures: bool = False) -> DictionaryObject:
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject(f"/{base}"),
            NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
        }
    )
    if ligatures:  # byte 1 shows the glyph "fi", byte 2 the glyph "fl"
        font[NameObject("/Encoding")] = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Encoding"),
                NameObject("/BaseEncoding"): NameObject("/WinAnsiEncoding"),
                NameObject("/Differences"): ArrayObject(
                    [NumberObject(1), NameObject("/fi"), NameObject("/fl")]
                ),
            }
        )
    return font


def make_pdf(
    pages: Sequence[Sequence[Line]],
    bookmarks: Iterable[tuple[str, int, int]] = (),
    user_password: str | None = None,
) -> bytes:
    """A PDF with one line per (text, size, font), top to bottom, and optional bookmarks."""
    fonts = {
        "R": _font("Helvetica"),
        "B": _font("Helvetica-Bold"),
        "M": _font("Courier"),
        "L": _font("Times-Roman", ligatures=True),
    }
    writer = PdfWriter()
    for lines in pages:
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = DictionaryObject(
            {
                NameObject("/Font"): DictionaryObject(
                    {NameObject(f"/{k}"): v for k, v in fonts.items()}
                )
            }
        )
        y, operations = 740.0, []
        for text, size, font in lines:
            escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            operations.append(f"BT /{font} {size} Tf 1 0 0 1 72 {y} Tm ({escaped}) Tj ET")
            y -= size * 1.6
        stream = DecodedStreamObject()
        stream.set_data("\n".join(operations).encode("latin-1"))
        page.replace_contents(stream)
    parents: dict[int, Any] = {}
    for title, level, page_index in bookmarks:
        parents[level] = writer.add_outline_item(title, page_index, parent=parents.get(level - 1))
    if user_password is not None:
        writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


BODY: list[Line] = [("This is body text that goes on and on, as body text does", 10, "R")] * 6
REPORT = [
    [
        ("Annual Report 2024", 12, "B"),  # a bold running head on every page
        ("1 Introduction", 16, "B"),
        *BODY,
        ("1 echo %path%", 9, "M"),  # a line-numbered code listing
        ("2 cd /d X:", 9, "M"),
        ("1.1 Scope", 12, "B"),
        *BODY,
        ("1", 8, "R"),
    ],
    [("Annual Report 2024", 12, "B"), *BODY, ("2 Results", 16, "B"), *BODY, ("2", 8, "R")],
    [("Annual Report 2024", 12, "B"), *BODY, ("\x01nd the \x02ow of it", 10, "L"), ("3", 8, "R")],
]


# --- format detection and names ---------------------------------------------------------------


def test_an_empty_file_fails_with_its_size() -> None:
    assert error(b"", "report.md") == "report.md is empty (0 bytes): there is nothing to outline."


def test_whitespace_only_fails_as_having_no_text() -> None:
    assert error(b" \r\n\t\n", "notes.txt") == (
        "notes.txt contains no text: there is nothing to outline."
    )


def test_a_pdf_named_md_fails_and_says_to_rename_it() -> None:
    assert error(make_pdf([BODY]), "google-doc-document.md") == (
        "google-doc-document.md starts with %PDF-: it is a PDF, not Markdown; "
        "rename it to .pdf and upload it again."
    )


def test_a_docx_named_txt_fails_and_says_to_rename_it() -> None:
    assert error(make_docx(), "letter.txt") == (
        "letter.txt is a Word document (DOCX), not plain text; rename it to .docx "
        "and upload it again."
    )


def test_text_named_pdf_fails() -> None:
    assert error(b"just words", "paper.pdf") == (
        "paper.pdf is named .pdf but does not start with %PDF-: it is not a PDF, or it is damaged."
    )


def test_text_named_docx_fails() -> None:
    assert "letter.docx is named .docx but is not a Word document" in error(b"hi", "letter.docx")


@pytest.mark.parametrize(
    ("data", "filename", "what"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(40), "figure.png", "a PNG image"),
        (b"\x89PNG\r\n\x1a\n" + bytes(40), "figure.md", "a PNG image"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(40), "old.doc", "a legacy Microsoft Office"),
        (b"\x1f\x8b\x08" + bytes(40), "notes.txt.gz", "a gzip archive"),
    ],
)
def test_recognized_binary_content_fails_naming_what_it_is(
    data: bytes, filename: str, what: str
) -> None:
    message = error(data, filename)
    assert message.startswith(f"{filename} is {what}")
    assert "Segue cannot read" in message


def test_a_legacy_word_file_is_told_to_be_saved_as_docx() -> None:
    message = error(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), "old.doc")
    assert message.endswith("save it as .docx, and upload it again.")


def test_a_password_protected_docx_is_told_to_be_unprotected() -> None:
    assert error(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), "secret.docx") == (
        "secret.docx is a password-protected Word document, which Segue cannot read; "
        "remove the password in Word, save it, and upload it again."
    )


def test_other_zip_archives_fail_naming_what_they_are() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    message = error(buffer.getvalue(), "budget.xlsx")
    assert message.startswith("budget.xlsx is an Excel workbook (.xlsx), which Segue cannot read;")
    assert "Markdown (.md)" in message and "Word (.docx)" in message


def test_an_unsupported_extension_with_text_fails_naming_what_is_supported() -> None:
    assert error(b"a,b\n1,2\n", "table.csv") == (
        "table.csv has the extension .csv, which Segue does not read; upload Markdown (.md), "
        "reStructuredText (.rst), plain text (.txt), HTML (.html), PDF (.pdf) or Word (.docx) "
        "instead."
    )


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("a.md", "markdown"),
        ("a.MARKDOWN", "markdown"),
        ("a.rst", "rst"),
        ("a.txt", "text"),
        ("a.text", "text"),
        ("README", "text"),
        ("a.html", "html"),
        ("a.HTM", "html"),
        ("some/dir/a.md", "markdown"),
        ("C:\\Users\\me\\a.rst", "rst"),
    ],
)
def test_text_formats_come_from_the_extension(filename: str, expected: str) -> None:
    assert detect_format(b"# Title\n", filename) == expected
    assert read_document(b"# Title\n", filename).format == expected


def test_messages_name_the_file_without_its_folders() -> None:
    assert error(b"", "uploads/2024/report.md").startswith("report.md is empty")


def test_html_in_a_txt_is_read_as_plain_text() -> None:
    document = read_document(b"<h1>Title</h1><p>Body</p>\n", "page.txt")
    assert document.format == "text"
    assert document.text == "<h1>Title</h1><p>Body</p>\n"
    assert document.headings is None


# --- text: encodings and normalization ----------------------------------------------------------


def test_markdown_rst_and_text_leave_headings_to_the_outline() -> None:
    for filename in ("a.md", "a.rst", "a.txt"):
        document = read_document(b"Title\n=====\n\nBody.\n", filename)
        assert document.headings is None
        assert document.encoding == "utf-8"
        assert document.pages == ()


def test_utf8_with_a_bom_is_read_without_it() -> None:
    document = read_document("Überblick\n".encode("utf-8-sig"), "a.md")
    assert document.text == "Überblick\n"
    assert document.encoding == "utf-8"


def test_utf16_with_a_bom_is_read() -> None:
    document = read_document("# 标题\r\n正文\r\n".encode("utf-16"), "a.md")
    assert document.text == "# 标题\n正文\n"
    assert document.encoding.startswith("utf-16")


def test_gbk_chinese_is_read_as_gb18030() -> None:
    text = "第一回 宴桃园豪杰三结义 斩黄巾英雄首立功\n话说天下大势，分久必合，合久必分。\n"
    document = read_document(text.encode("gbk"), "sanguo.txt")
    assert document.encoding == "gb18030"
    assert document.text == text


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        ("Voilà l'été. Ça commence à être très chaud à côté du lac.\n", "latin-1"),
        ("Le cœur a ses raisons que la raison ne connaît point. « Où ? »\n", "cp1252"),
        ("Größe und Übermäßig: schöne Grüße aus München.\n", "cp1252"),
        ("café\n", "latin-1"),
    ],
)
def test_western_single_byte_text_is_read_as_windows_1252(text: str, codec: str) -> None:
    document = read_document(text.encode(codec), "lettre.txt")
    assert document.text == text
    assert document.encoding == "cp1252"


def test_another_single_byte_code_page_wins_when_it_fits_clearly_better() -> None:
    text = "Zażółć gęślą jaźń. Pchnąć w tę łódź jeża lub ośm skrzyń fig.\n" * 3
    document = read_document(text.encode("cp1250"), "pl.txt")
    assert document.text == text
    assert document.encoding == "cp1250"


def test_utf8_with_a_few_bad_bytes_is_read_as_utf8_with_a_warning() -> None:
    data = "naïve café\n".encode() + b"\xff" + "ünïcode\n".encode()
    document = read_document(data, "a.txt")
    assert document.encoding == "utf-8"
    assert document.text == "naïve café\n\ufffdünïcode\n"
    assert document.warnings == (
        "a.txt has 1 byte sequence that is not valid utf-8; it was replaced by �.",
    )


def test_bytes_in_no_detectable_encoding_fail() -> None:
    data = bytes((i * 37 + 11) % 128 + 128 for i in range(3000))
    assert error(data, "mystery.txt") == (
        "mystery.txt is not in a text encoding Segue can detect; save it as UTF-8 and upload it again."
    )


@pytest.mark.parametrize(
    "data",
    [bytes(range(256)) * 8, b"\x00\x01\x02\x03 text \x00" * 50, b"PK\x05\x06" + bytes(100)],
)
def test_binary_junk_fails(data: bytes) -> None:
    assert error(data, "junk.txt") == (
        "junk.txt contains binary data (NUL or control bytes), not text; upload a Markdown, "
        "reStructuredText, plain text, HTML, PDF or Word file."
    )


def test_line_ends_form_feeds_and_controls_are_normalized() -> None:
    data = b"one\r\ntwo\rthree\x0cfour\x07 \t\r\n\tfive  \n" + b"-" * 200
    document = read_document(data, "a.txt")
    assert document.text == "one\ntwo\nthree\nfour\n\tfive\n" + "-" * 200


def test_a_stray_nul_is_removed_with_a_warning() -> None:
    document = read_document(b"A" * 200 + b"\x00" + b"B\n", "a.txt")
    assert document.text == "A" * 200 + "B\n"
    assert document.warnings == ("a.txt contains a NUL byte, which was removed.",)


def test_text_is_nfc() -> None:
    document = read_document("Cafe\u0301\n".encode(), "a.md")
    assert document.text == "Café\n"


def test_five_megabytes_of_cp1252_text_read_whole() -> None:
    """The encoding is detected from a sample, the whole text decoded (speed: bench/)."""
    data = ("Le cœur a ses raisons que la raison ne connaît point.  \r\n" * 90_000).encode("cp1252")
    document = read_document(data, "big.txt")
    assert len(data) > 5_000_000 and document.encoding == "cp1252"
    assert document.text.count("\n") == 90_000 and "connaît point.\n" in document.text


# --- HTML -----------------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html><head><title>Manual</title><style>h2 { color: red }</style>
<script>var h2 = "<h2>Not a heading</h2>";</script></head>
<body class="has-sidebar">
<nav><a href="#intro">Introduction</a> <a href="#api">API</a></nav>
<div id="sidebar"><ul><li><a href="#intro">Introduction</a></li><li><a href="#api">API</a></li></ul></div>
<div class="toc-intro">This block is called toc but it is prose, with one <a href="#">link</a>.</div>
<h2 id="intro">Introduction</h2>
<p>Some <b>bold</b> text
spread over lines.</p>
<noscript>Enable JavaScript</noscript>
<pre>
def f():
    return 1

print(f())
</pre>
<h3>Details<br>and more</h3>
<table><tr><th>Name</th><th>Value</th></tr><tr><td>a</td><td>1</td></tr></table>
<h2 id="api">API</h2>
<ul><li>first</li><li>second</li></ul>
</body></html>
"""


def test_html_text_is_what_a_reader_sees() -> None:
    document = read_document(PAGE.encode(), "manual.html")
    assert document.format == "html" and document.encoding == "utf-8"
    assert document.text == (
        "This block is called toc but it is prose, with one link.\n\n"
        "Introduction\n\n"
        "Some bold text spread over lines.\n\n"
        "def f():\n    return 1\n\nprint(f())\n\n"
        "Details and more\n\n"
        "Name\tValue\na\t1\n\n"
        "API\n\n"
        "first\nsecond\n"
    )


def test_html_headings_are_ranked_and_not_taken_from_navigation() -> None:
    document = read_document(PAGE.encode(), "manual.html")
    assert [(h.title, h.level) for h in document.headings or ()] == [
        ("Introduction", 1),
        ("Details and more", 2),
        ("API", 1),
    ]
    assert document.text.count("Introduction") == 1
    assert_headings_point_at_their_lines(document)


def test_html_role_navigation_is_dropped() -> None:
    page = b'<div role="navigation"><h1>Menu</h1></div><h1>Real</h1><p>x</p>'
    document = read_document(page, "a.html")
    assert [h.title for h in document.headings or ()] == ["Real"]
    assert "Menu" not in document.text


def test_html_meta_charset_is_honoured() -> None:
    page = (
        '<html><head><meta charset="windows-1252"></head><body><h1>Café “quoted”</h1></body></html>'
    )
    document = read_document(page.encode("cp1252"), "a.html")
    assert document.encoding == "cp1252"
    assert [h.title for h in document.headings or ()] == ["Café “quoted”"]


def test_html_latin1_label_means_windows_1252_as_in_browsers() -> None:
    page = '<meta http-equiv="content-type" content="text/html; charset=ISO-8859-1"><p>“Hi”</p>'
    document = read_document(page.encode("cp1252"), "a.htm")
    assert document.encoding == "cp1252"
    assert document.text == "“Hi”\n"


def test_html_with_a_wrong_meta_charset_is_detected_with_a_warning() -> None:
    page = '<meta charset="utf-8"><p>Voilà l\'été, à côté du lac.</p>'
    document = read_document(page.encode("latin-1"), "a.html")
    assert document.text == "Voilà l'été, à côté du lac.\n"
    assert document.warnings == (
        "a.html declares the charset utf-8, but its bytes do not fit it; it was read as cp1252.",
    )


def test_html_gbk_without_a_declaration_is_detected() -> None:
    page = "<h1>第一章 总则</h1><p>话说天下大势，分久必合，合久必分。周末七国分争，并入于秦。</p>"
    document = read_document(page.encode("gbk"), "a.html")
    assert document.encoding == "gb18030"
    assert [h.title for h in document.headings or ()] == ["第一章 总则"]


def test_xhtml_with_an_xml_declaration_is_read() -> None:
    page = b'<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><body><h1>T</h1><p>x</p></body></html>'
    document = read_document(page, "a.html")
    assert [h.title for h in document.headings or ()] == ["T"]


def test_html_without_any_tags_is_its_text() -> None:
    document = read_document(b"just words\n\nand more\n", "a.html")
    assert document.text == "just words\n\nand more\n"
    assert document.headings == ()


# --- DOCX -----------------------------------------------------------------------------------------


def make_docx(title: str | None = "Annual Report") -> bytes:
    word = docx.Document()
    if title is not None:
        word.add_heading(title, 0)
    word.add_paragraph("Opening words.")
    word.add_heading("Introduction", 1)
    word.add_paragraph("First paragraph.")
    word.add_heading("Scope", 2)
    table = word.add_table(rows=2, cols=2)
    for r, row in enumerate([("Name", "Value"), ("a", "1")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    word.add_heading("Results", 1)
    word.add_paragraph("Last paragraph.")
    buffer = io.BytesIO()
    word.save(buffer)
    return buffer.getvalue()


def test_docx_paragraphs_tables_and_headings() -> None:
    document = read_document(make_docx(), "report.docx")
    assert document.format == "docx" and document.encoding is None
    assert document.text == (
        "Annual Report\n\nOpening words.\n\nIntroduction\n\nFirst paragraph.\n\n"
        "Scope\n\nName\tValue\na\t1\n\nResults\n\nLast paragraph.\n"
    )
    assert [(h.title, h.level) for h in document.headings or ()] == [
        ("Annual Report", 1),
        ("Introduction", 2),
        ("Scope", 3),
        ("Results", 2),
    ]
    assert_headings_point_at_their_lines(document)


def test_docx_without_a_title_starts_at_heading_1() -> None:
    document = read_document(make_docx(title=None), "report.docx")
    assert [(h.title, h.level) for h in document.headings or ()][:2] == [
        ("Introduction", 1),
        ("Scope", 2),
    ]


def test_a_damaged_docx_fails_as_damaged() -> None:
    data = make_docx()
    message = error(data[: len(data) // 2], "report.docx")
    assert message.startswith("report.docx could not be read: the file looks damaged (python-docx:")


def test_a_zip_without_word_content_named_docx_is_not_a_word_document() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    assert error(buffer.getvalue(), "report.docx").startswith(
        "report.docx is a ZIP archive without a Word document inside"
    )


# --- PDF ------------------------------------------------------------------------------------------


def test_pdf_text_pages_and_layout_headings() -> None:
    document = read_document(make_pdf(REPORT), "report.pdf")
    assert document.format == "pdf" and document.encoding is None
    assert len(document.pages) == 3 and document.pages[0] == 0
    assert document.text[document.pages[1] :].startswith("Annual Report 2024\n")
    assert [(h.title, h.level) for h in document.headings or ()] == [
        ("1 Introduction", 1),
        ("1.1 Scope", 2),
        ("2 Results", 1),
    ]
    assert_headings_point_at_their_lines(document)
    assert document.warnings == ()


def test_pdf_layout_levels_nest_under_the_last_higher_heading() -> None:
    appendix = [("Appendix", 20, "B"), *BODY, ("A.1 Tables", 16, "B"), *BODY]
    document = read_document(make_pdf([*REPORT, appendix]), "report.pdf")
    assert [(h.title, h.level) for h in document.headings or ()] == [
        ("1 Introduction", 1),
        ("1.1 Scope", 2),
        ("2 Results", 1),
        ("Appendix", 1),
        ("A.1 Tables", 2),
    ]


def test_pdf_ligatures_are_folded() -> None:
    document = read_document(make_pdf(REPORT), "report.pdf")
    assert "find the flow of it" in document.text
    assert not any("\ufb00" <= c <= "\ufb06" for c in document.text)


def test_pdf_bookmarks_are_the_headings_found_in_their_pages() -> None:
    bookmarks = [("1 Introduction", 1, 0), ("1.1 scope", 2, 0), ("2 Results", 1, 1)]
    document = read_document(make_pdf(REPORT, bookmarks), "report.pdf")
    assert [(h.title, h.level, h.anchor) for h in document.headings or ()] == [
        ("1 Introduction", 1, "1 Introduction"),
        ("1.1 scope", 2, "1.1 Scope"),
        ("2 Results", 1, "2 Results"),
    ]
    assert_headings_point_at_their_lines(document)


def test_a_bookmark_found_on_the_next_page_is_placed_there() -> None:
    document = read_document(make_pdf(REPORT, [("2 Results", 1, 0)]), "report.pdf")
    (heading,) = document.headings or ()
    assert heading.anchor == "2 Results"
    assert heading.offset > document.pages[1]


def test_a_bookmark_not_in_the_text_goes_to_its_page_start_with_a_warning() -> None:
    document = read_document(make_pdf(REPORT, [("Appendix", 1, 2)]), "report.pdf")
    (heading,) = document.headings or ()
    assert (heading.title, heading.offset, heading.anchor) == (
        "Appendix",
        document.pages[2],
        "Annual Report 2024",
    )
    assert document.warnings == (
        'The bookmark "Appendix" of report.pdf was not found on page 3 or the next; '
        "it was placed at the start of page 3.",
    )


def test_a_pdf_without_heading_cues_has_no_headings_and_a_warning() -> None:
    document = read_document(make_pdf([BODY, BODY]), "plain.pdf")
    assert document.headings == ()
    assert document.warnings == (
        "No headings were found in plain.pdf: it has no bookmarks, and no line is set in a "
        "larger or bold font.",
    )


def test_a_pdf_with_some_empty_pages_warns() -> None:
    document = read_document(make_pdf([[("Title page", 20, "B")], [], BODY]), "a.pdf")
    assert "Page 2 of a.pdf has no text layer (scanned?), so its text is missing." in (
        document.warnings
    )


def test_a_pdf_without_text_needs_ocr() -> None:
    assert error(make_pdf([[], []]), "scan.pdf") == (
        "scan.pdf has no text layer (it looks scanned): it needs OCR, which Segue does not do; "
        "upload a PDF with selectable text."
    )


def test_an_encrypted_pdf_fails() -> None:
    assert error(make_pdf([BODY], user_password="secret"), "secret.pdf") == (
        "secret.pdf is an encrypted PDF that Segue cannot open; remove the password "
        "(print or export it to an unencrypted PDF) and upload it again."
    )


def test_a_pdf_with_only_an_owner_password_is_read() -> None:
    document = read_document(make_pdf(REPORT, user_password=""), "locked.pdf")
    assert (document.headings or ())[0].title == "1 Introduction"


@pytest.mark.parametrize("cut", [0.3, 0.6])
def test_a_damaged_pdf_fails_as_damaged(cut: float) -> None:
    data = make_pdf(REPORT)
    message = error(data[: int(len(data) * cut)], "broken.pdf")
    assert message.startswith("broken.pdf could not be read: the file looks damaged (pypdf: ")


# --- never another exception ----------------------------------------------------------------------

PREFIXES = [b"", b"%PDF-1.4\n", b"PK\x03\x04", b"<html><h1>", b"\xef\xbb\xbf", b"\xff\xfe"]
NAMES = ["a.md", "a.txt", "a.html", "a.pdf", "a.docx", "a.rst", "a"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PREFIXES), st.binary(max_size=300), st.sampled_from(NAMES))
def test_any_bytes_give_a_document_or_a_document_error(
    prefix: bytes, rest: bytes, filename: str
) -> None:
    try:
        document = read_document(prefix + rest, filename)
    except DocumentError as exc:
        assert str(exc).startswith(filename)
    else:
        assert document.format in FORMATS
        assert_normalized(document.text)
        assert_headings_point_at_their_lines(document)


# --- the shared corpus ----------------------------------------------------------------------------


@cache
def corpus(filename: str) -> Document:
    if not CORPUS.is_dir():
        pytest.skip(f"no corpus at {CORPUS} (set SEGUE_CORPUS)")
    return read_document((CORPUS / filename).read_bytes(), filename)


def corpus_error(filename: str) -> str:
    if not CORPUS.is_dir():
        pytest.skip(f"no corpus at {CORPUS} (set SEGUE_CORPUS)")
    return error((CORPUS / filename).read_bytes(), filename)


READABLE = {
    "pep-0008.rst": "rst",
    "pep-0751.rst": "rst",
    "commonmark-spec.md": "markdown",
    "keep-a-changelog-CHANGELOG.md": "markdown",
    "fastapi-zh-deployment-docker.md": "markdown",
    "rfc2616.txt": "text",
    "war-and-peace.txt": "text",
    "sanguo-yanyi.txt": "text",
    "declaration-of-independence.txt": "text",
    "backbone-index.html": "html",
    "GeoTopo-komprimiert.pdf": "pdf",
    "multicolumn.pdf": "pdf",
    "install-latex-guide-zh-cn.pdf": "pdf",
}


@pytest.mark.parametrize("filename", sorted(READABLE))
def test_corpus_documents_are_read_and_normalized(filename: str) -> None:
    document = corpus(filename)
    assert document.format == READABLE[filename]
    assert_normalized(document.text)
    assert_headings_point_at_their_lines(document)
    assert (document.headings is None) == (document.format in ("markdown", "rst", "text"))


def test_corpus_empty_file_fails() -> None:
    assert corpus_error("empty.md") == "empty.md is empty (0 bytes): there is nothing to outline."


def test_corpus_pdf_named_md_fails() -> None:
    assert corpus_error("google-doc-document.md") == (
        "google-doc-document.md starts with %PDF-: it is a PDF, not Markdown; "
        "rename it to .pdf and upload it again."
    )


def test_corpus_sanguo_is_gbk_read_as_gb18030() -> None:
    document = corpus("sanguo-yanyi.txt")
    assert document.encoding == "gb18030"
    assert "第一回" in document.text and "========正文========" in document.text


def test_corpus_rfc_loses_its_crlf_and_form_feeds() -> None:
    document = corpus("rfc2616.txt")
    assert "Hypertext Transfer Protocol -- HTTP/1.1" in document.text


def test_corpus_war_and_peace_is_utf8_and_whole() -> None:
    document = corpus("war-and-peace.txt")
    assert document.encoding == "utf-8"
    assert document.text.startswith("BOOK ONE: 1805")
    assert document.text.count("CHAPTER I\n") >= 17


def test_corpus_backbone_headings_are_the_60_h2s_once_each() -> None:
    document = corpus("backbone-index.html")
    headings = document.headings or ()
    assert len(headings) == 60 and {h.level for h in headings} == {1}
    assert len({h.title for h in headings}) == 60
    lines = document.text.split("\n")
    assert all(lines.count(h.title) == 1 for h in headings)  # the sidebar is gone
    assert "runnable code example" not in document.text  # the inline <script>
    assert "font-family" not in document.text  # the inline <style>


def test_corpus_geotopo_has_its_35_bookmarks_located() -> None:
    document = corpus("GeoTopo-komprimiert.pdf")
    headings = document.headings or ()
    assert len(headings) == 35 and len(document.pages) == 117
    assert [h.title for h in headings].count("Übungsaufgaben") == 3
    assert {h.level for h in headings} == {1, 2, 3}
    assert ("4.2.1 Flächeninhalt", 3) in [(h.title, h.level) for h in headings]
    assert document.warnings == ()
    assert not any("\ufb00" <= c <= "\ufb06" for c in document.text)


def test_corpus_install_guide_headings_come_from_layout_not_code_or_running_heads() -> None:
    document = corpus("install-latex-guide-zh-cn.pdf")
    # not the code listings ("1 echo %path%", "1 tlmgr update --list") nor the running
    # heads ("1 安装 TEX LIVE 2"); section 3 is empty but still a heading
    assert [(h.title, h.level) for h in document.headings or ()] == [
        ("一份简短的安装 LATEX 的介绍", 1),
        ("1 安装 TEX Live", 2),
        ("2 卸载 TEX Live", 2),
        ("3 安装宏包", 2),
        ("4 升级宏包", 2),
        ("4.1 tlmgr 本身无法成功升级", 3),
        ("4.2 升级到一半停止", 3),
        ("5 编译文档", 2),
    ]


def test_corpus_multicolumn_reads_column_by_column() -> None:
    document = corpus("multicolumn.pdf")
    assert "Lorem ipsum dolor sit amet, consectetuer adip-\niscing elit." in document.text
    assert max(len(line) for line in document.text.split("\n")) < 80
    assert [h.title for h in document.headings or ()] == [
        "Two-Column Document with Lorem Ipsum",
        "Abstract",
    ]
