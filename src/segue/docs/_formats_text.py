r"""Text helpers for the readers in ``formats``: decoding bytes, normalizing text, building lines.

Decoding (:func:`decode_text`) goes in this order, and the first rule that
applies wins:

1. A byte-order mark (UTF-8, UTF-16, UTF-32) decides, and is dropped.
2. Bytes that are mostly not text are refused: more than 1% control bytes
   (NUL and the C0 controls other than tab, line feed, carriage return, form
   feed and escape) means binary data, not a text document.
3. A charset the document declares (HTML ``<meta charset>``) is tried strictly.
4. UTF-8 is tried strictly. A file that is UTF-8 but for at most
   :data:`MAX_REPLACED` bad bytes is read as UTF-8 with those bytes replaced
   (and a warning).
5. charset-normalizer guesses from the first :data:`DETECT_SAMPLE_BYTES`.
   Western text (most non-ASCII bytes stand alone between ASCII bytes, as
   accented letters do in single-byte code pages) is read as Windows-1252
   unless the detector finds another single-byte code page that fits clearly
   better. Any GB result (GB2312, GBK) is read as GB18030, its superset.
   The whole file is then decoded with that codec; again at most
   :data:`MAX_REPLACED` bytes may be replaced (with a warning).

Normalization (:func:`normalize_text`) makes ``\n`` the only line break
(CRLF, CR, form feed, NEL, U+2028/U+2029 become ``\n``), removes NUL and the
other C0 controls except tab, removes spaces and tabs at line ends, and applies
Unicode NFC; for PDF it also folds the ligatures U+FB00–U+FB06 (``ﬁ`` → ``fi``).
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

import charset_normalizer

from segue.docs.model import DocumentError, Heading

DETECT_SAMPLE_BYTES = 64 * 1024
"""How much of a file charset-normalizer sees (it is slow on big inputs)."""

MAX_REPLACED = 8
"""Undecodable bytes tolerated (replaced by U+FFFD, with a warning) before failing."""

MAX_CONTROL_RATIO = 0.01
"""Share of control bytes above which a file is binary data, not text."""

_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)])
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_GB_FAMILY = frozenset({"gb2312", "gbk", "gb18030", "euc_cn", "cp936"})
_WESTERN = "cp1252"
_MULTI_BYTE_PREFIXES = (
    *("big5", "cp932", "cp949", "cp950", "euc", "gb", "hz", "iso2022", "johab", "shift_jis"),
    "utf",
)
_BETTER_FIT = 0.1  # how much lower another code page's chaos must be to beat cp1252
_HIGH_RUN = re.compile(rb"[\x80-\xff]+")

_OTHER_BREAKS = ("\f", "\x85", "\u2028", "\u2029")
_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f]")
_LIGATURES = {c: unicodedata.normalize("NFKC", chr(c)) for c in range(0xFB00, 0xFB07)}
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Decoded:
    """Text decoded from bytes, with the codec used and what to know about it."""

    text: str
    encoding: str
    warnings: tuple[str, ...] = ()


def decode_text(data: bytes, name: str, *, declared: str | None = None) -> Decoded:
    """Decode a text file's bytes (see the module docstring for the rules).

    Args:
        data: The file's bytes, not empty.
        name: The file name, for messages.
        declared: A charset the document declares for itself, if any.

    Raises:
        DocumentError: The bytes are binary data, or in no encoding that can
            be detected, or do not fit the detected encoding.
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return _decode_all(data[len(bom) :], codec, name)
    reject_binary(data, name)
    notes = _nul_warning(data, name)
    meant = _declared_codec(declared) if declared is not None else None
    if meant is not None and _decodes(data, meant):
        return Decoded(data.decode(meant), meant, notes)
    decoded = _undeclared(data, name)
    if declared is not None and decoded.encoding != meant:
        notes += (
            f"{name} declares the charset {declared}, but its bytes do not fit it; "
            f"it was read as {decoded.encoding}.",
        )
    return Decoded(decoded.text, decoded.encoding, notes + decoded.warnings)


def _undeclared(data: bytes, name: str) -> Decoded:
    """UTF-8 if the bytes are UTF-8 (or nearly), else what detection says."""
    try:
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    return _mostly_utf8(data, name) or _decode_all(data, detect_encoding(data, name), name)


def _nul_warning(data: bytes, name: str) -> tuple[str, ...]:
    count = data.count(0)
    if not count:
        return ()
    what = "a NUL byte, which was" if count == 1 else f"{count} NUL bytes, which were"
    return (f"{name} contains {what} removed.",)


def reject_binary(data: bytes, name: str) -> None:
    """Fail when more than 1% of the bytes are control bytes (binary data, not text)."""
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
    if controls > MAX_CONTROL_RATIO * len(data):
        raise DocumentError(
            f"{name} contains binary data (NUL or control bytes), not text; upload a "
            "Markdown, reStructuredText, plain text, HTML, PDF or Word file."
        )


def detect_encoding(data: bytes, name: str) -> str:
    """Guess the codec of bytes that are not UTF-8, from a bounded sample.

    Raises:
        DocumentError: No encoding fits.
    """
    sample = _sample(data)
    western = _looks_western(sample)
    results = charset_normalizer.from_bytes(sample)
    if western:
        return _western_choice(results, sample)
    best = results.best()
    if best is None:
        raise DocumentError(
            f"{name} is not in a text encoding Segue can detect; "
            "save it as UTF-8 and upload it again."
        )
    return canonical_codec(best.encoding)


def canonical_codec(codec: str) -> str:
    """Python's name for a codec, with the GB family widened to GB18030.

    Raises:
        LookupError: Python has no such codec.
    """
    name = codecs.lookup(codec).name
    if name.replace("-", "_") in _GB_FAMILY:
        return "gb18030"
    return name


def _sample(data: bytes) -> bytes:
    """The first bytes of ``data``, cut after a line feed so no character is split."""
    if len(data) <= DETECT_SAMPLE_BYTES:
        return data
    sample = data[:DETECT_SAMPLE_BYTES]
    cut = sample.rfind(b"\n")
    return sample[: cut + 1] if cut > DETECT_SAMPLE_BYTES // 2 else sample


def _looks_western(sample: bytes) -> bool:
    """Whether most runs of non-ASCII bytes are one byte long (accented letters)."""
    runs = [len(run) for run in _HIGH_RUN.findall(sample)]
    return bool(runs) and sum(1 for n in runs if n == 1) >= 0.5 * len(runs)


def _western_choice(results: charset_normalizer.CharsetMatches, sample: bytes) -> str:
    """Windows-1252, unless a single-byte code page other than it fits clearly better."""
    single = [r for r in results if not _is_multi_byte(r.encoding)]
    if not single:
        return _WESTERN if _decodes(sample, _WESTERN) else "iso8859-1"
    best = min(r.chaos for r in single)
    for result in single:
        if result.chaos <= best + _BETTER_FIT and _WESTERN in result.could_be_from_charset:
            return _WESTERN
    return canonical_codec(single[0].encoding)


def _is_multi_byte(codec: str) -> bool:
    return codec.startswith(_MULTI_BYTE_PREFIXES)


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def _declared_codec(declared: str) -> str | None:
    """The codec a declared charset means (as browsers read it), or None if unknown."""
    try:
        codec = canonical_codec(declared)
    except LookupError:
        return None
    if codec in ("iso8859-1", "ascii"):
        return _WESTERN  # as browsers do: these labels mean Windows-1252
    if codec.startswith(("utf-16", "utf-32")):
        return "utf-8"  # without a BOM the bytes cannot be UTF-16; browsers read UTF-8
    return codec


def _mostly_utf8(data: bytes, name: str) -> Decoded | None:
    """UTF-8 with a handful of bad bytes replaced, if the rest really is UTF-8."""
    text, bad = _decode_replacing(data, "utf-8")
    multi_byte = len(data) - len(text)  # > 0 only if valid multi-byte sequences exist
    if bad > MAX_REPLACED or multi_byte < 2 * bad:
        return None
    return Decoded(text, "utf-8", (_replaced_warning(name, bad, "utf-8"),))


def _decode_all(data: bytes, codec: str, name: str) -> Decoded:
    """Decode all of ``data`` with ``codec``, tolerating a handful of bad bytes."""
    try:
        return Decoded(data.decode(codec), codec)
    except UnicodeDecodeError:
        pass
    text, bad = _decode_replacing(data, codec)
    if bad > MAX_REPLACED:
        raise DocumentError(
            f"{name} could not be decoded as {codec} ({bad} byte sequences do not fit); "
            "save it as UTF-8 and upload it again."
        )
    return Decoded(text, codec, (_replaced_warning(name, bad, codec),))


def _decode_replacing(data: bytes, codec: str) -> tuple[str, int]:
    """The text with bad bytes replaced by U+FFFD, and how many were replaced."""
    text = data.decode(codec, errors="replace")
    return text, len(text) - len(data.decode(codec, errors="ignore"))


def _replaced_warning(name: str, count: int, codec: str) -> str:
    if count == 1:
        return f"{name} has 1 byte sequence that is not valid {codec}; it was replaced by �."
    return f"{name} has {count} byte sequences that are not valid {codec}; they were replaced by �."


def normalize_text(text: str, *, fold_ligatures: bool = False) -> str:
    """Normalize text so every offset means the same thing for every format.

    Args:
        text: Decoded text.
        fold_ligatures: Also replace the ligatures U+FB00–U+FB06 by their letters.
    """
    text = unify_breaks(text)
    if _CONTROLS.search(text):
        text = _CONTROLS.sub("", text)
    if fold_ligatures:
        text = text.translate(_LIGATURES)
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    # split and join is several times faster than a regular expression on megabytes
    return "\n".join(line.rstrip(" \t") for line in text.split("\n"))


def unify_breaks(text: str) -> str:
    """Every line break (CRLF, CR, form feed, NEL, U+2028, U+2029) as a line feed."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    for other in _OTHER_BREAKS:
        if other in text:
            text = text.replace(other, "\n")
    return text


def collapse_spaces(text: str) -> str:
    """Whitespace runs as single spaces, and no whitespace at either end."""
    return _SPACES.sub(" ", text).strip()


@dataclass(slots=True)
class LineBuilder:
    """Collects a document's lines and headings; computes the text and the offsets.

    Blocks (paragraphs, tables, code) are separated by one blank line; lines
    within a block by a line break. Each heading is a line of its own.
    """

    lines: list[str] = field(default_factory=list)
    marks: list[tuple[int, int, str]] = field(default_factory=list)

    def line(self, text: str) -> None:
        """Add one line (normalized here); an empty one only separates blocks."""
        for part in normalize_text(text).split("\n"):
            if part.strip():
                self.lines.append(part)
            else:
                self.blank()

    def verbatim(self, text: str) -> None:
        """Add text as it is, blank lines included, as a block of its own."""
        lines = normalize_text(text).split("\n")
        while lines and not lines[-1].strip():
            lines.pop()
        first = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
        if first < len(lines):
            self.blank()
            self.lines.extend(lines[first:])
            self.blank()

    def blank(self) -> None:
        """End the current block: the next line starts after one blank line."""
        if self.lines and self.lines[-1]:
            self.lines.append("")

    def heading(self, title: str, rank: int) -> None:
        """Add a heading line; ``rank`` orders heading kinds (lower is higher)."""
        title = collapse_spaces(normalize_text(title))
        if not title:
            return
        self.blank()
        self.marks.append((len(self.lines), rank, title))
        self.lines.append(title)
        self.blank()

    def build(self) -> tuple[str, tuple[Heading, ...]]:
        """The text (ending with a line break) and its headings, levels ranked."""
        while self.lines and not self.lines[-1]:
            self.lines.pop()
        starts = _line_starts(self.lines)
        levels = rank_levels([rank for _, rank, _ in self.marks])
        headings = tuple(
            Heading(title=title, level=level, offset=starts[index], anchor=title)
            for (index, _, title), level in zip(self.marks, levels, strict=True)
        )
        text = "\n".join(self.lines) + "\n" if self.lines else ""
        return text, headings


def rank_levels(ranks: Sequence[int]) -> list[int]:
    """Levels 1..6 from heading ranks: the highest rank present becomes level 1."""
    order = {rank: index + 1 for index, rank in enumerate(sorted(set(ranks)))}
    return [min(order[rank], 6) for rank in ranks]


def _line_starts(lines: Sequence[str]) -> list[int]:
    starts, position = [], 0
    for line in lines:
        starts.append(position)
        position += len(line) + 1
    return starts
