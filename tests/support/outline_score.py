"""Score a drafted outline against a hand-written expected outline.

The expected outlines live in ``tests/fixtures/outlines/<document>.yaml`` (one per
document of the shared corpus, written by reading the document, never by running the
extractor). Both ``bench/outline_quality.py`` and
``tests/integration/test_outline_quality.py`` use this module, so the benchmark and
the test count the same way:

- Only headings at ``level <= complete_to_level`` count, on both sides.
- Titles are compared normalized: NFKC, casefolded, whitespace collapsed, whitespace
  next to a CJK character removed (``安装 TeX`` == ``安装TeX``), surrounding
  punctuation and symbols stripped.
- Expected and found titles are aligned as sequences (``difflib.SequenceMatcher``),
  so order matters and duplicates count by position: the 14 ``Added`` headings of a
  changelog are 14 headings, each of which must be found in its own place.
- An expected heading marked ``optional: true`` (e.g. a document title that is a
  title block rather than a section) is neither missing when absent nor extra when
  found. When the found outline puts such a title alone at its top level and every
  section one level below it, the levels below are moved back up before comparing.
- A ratio with nothing to divide by is 1.0 only when both sides are empty: a document
  without headings scores 1.0 only for an empty outline, and an empty outline scores
  0.0 wherever headings were expected.
- An expected outcome ``error`` is correct when the reader or the drafter raised a
  ``DocumentError`` whose message contains ``error_contains`` (case-insensitively).
"""

from __future__ import annotations

import difflib
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
OUTLINES = REPO / "tests" / "fixtures" / "outlines"
DEFAULT_FLOOR = 0.9

_CJK = "\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK_SPACE = re.compile(rf"(?<=[{_CJK}]) | (?=[{_CJK}])")


@dataclass(frozen=True, slots=True)
class ExpectedHeading:
    title: str
    level: int
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Expected:
    """One expected-outline file."""

    document: str
    outcome: str  # "outline" or "error"
    complete_to_level: int
    headings: tuple[ExpectedHeading, ...]
    error_contains: str | None = None
    floor_precision: float = DEFAULT_FLOOR
    floor_recall: float = DEFAULT_FLOOR
    notes: str = ""
    path: Path | None = None


@dataclass(frozen=True, slots=True)
class Score:
    """How a drafted outline (or an error) compares with the expectation."""

    document: str
    expected_n: int
    found_n: int
    matched: int
    precision: float
    recall: float
    level_accuracy: float | None  # among matched headings; None when nothing matched
    outcome_ok: bool
    error: str | None = None  # the DocumentError (or crash) message, if one was raised
    missing: tuple[str, ...] = field(default=())
    extra: tuple[str, ...] = field(default=())
    wrong_level: tuple[tuple[str, int, int], ...] = field(default=())  # title, expected, found

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 0.0 if total == 0 else 2 * self.precision * self.recall / total

    def meets(self, expected: Expected) -> bool:
        return (
            self.outcome_ok
            and self.precision >= expected.floor_precision
            and self.recall >= expected.floor_recall
        )

    def explain(self, limit: int = 15) -> str:
        """A few lines for a failing assertion: the numbers, then what was missing or extra."""
        lines = [
            f"{self.document}: expected {self.expected_n}, found {self.found_n}, "
            f"matched {self.matched}, precision {self.precision:.3f}, recall {self.recall:.3f}"
        ]
        if self.error:
            lines.append(f"  error: {self.error}")
        for label, items in (("missing", self.missing), ("extra", self.extra)):
            if items:
                shown = ", ".join(repr(t) for t in items[:limit])
                more = f" … (+{len(items) - limit})" if len(items) > limit else ""
                lines.append(f"  {label} ({len(items)}): {shown}{more}")
        return "\n".join(lines)


def normalize(title: str) -> str:
    """The form titles are compared in (see the module docstring)."""
    text = unicodedata.normalize("NFKC", title).casefold()
    text = " ".join(text.split())
    text = _CJK_SPACE.sub("", text)
    start, end = 0, len(text)
    while start < end and _is_edge_junk(text[start]):
        start += 1
    while end > start and _is_edge_junk(text[end - 1]):
        end -= 1
    return text[start:end]


def _is_edge_junk(char: str) -> bool:
    return char.isspace() or unicodedata.category(char)[0] in "PS"


def load_expected(path: Path) -> Expected:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    floor = data.get("floor") or {}
    headings = tuple(
        ExpectedHeading(str(h["title"]), int(h["level"]), bool(h.get("optional", False)))
        for h in data.get("headings") or ()
    )
    outcome = data.get("outcome", "outline")
    if outcome not in ("outline", "error"):
        raise ValueError(f"{path.name}: outcome must be 'outline' or 'error', not {outcome!r}")
    if outcome == "error" and not data.get("error_contains"):
        raise ValueError(f"{path.name}: an error outcome needs error_contains")
    return Expected(
        document=str(data["document"]),
        outcome=outcome,
        complete_to_level=int(data.get("complete_to_level", 2)),
        headings=headings,
        error_contains=data.get("error_contains"),
        floor_precision=float(floor.get("precision", DEFAULT_FLOOR)),
        floor_recall=float(floor.get("recall", DEFAULT_FLOOR)),
        notes=str(data.get("notes") or ""),
        path=path,
    )


def expected_files(folder: Path = OUTLINES) -> list[Path]:
    return sorted(folder.glob("*.yaml"))


def corpus_dirs(repo: Path = REPO) -> list[Path]:
    """Where documents are looked for: ``$SEGUE_CORPUS`` (default ``<repo>/../shared/corpus``),
    then the repository's own ``tests/fixtures/docs`` if it exists."""
    corpus = os.environ.get("SEGUE_CORPUS") or str(repo.parent / "shared" / "corpus")
    dirs = [Path(corpus)]
    local = repo / "tests" / "fixtures" / "docs"
    if local.is_dir():
        dirs.append(local)
    return dirs


def find_document(name: str, dirs: Sequence[Path]) -> Path | None:
    for folder in dirs:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def _ratio(matched: int, total: int, other_side: int) -> float:
    """matched / total; with nothing on this side, 1.0 only if the other side is empty too."""
    if total:
        return matched / total
    return 1.0 if other_side == 0 else 0.0


def _undo_title_shift(
    wanted: Sequence[ExpectedHeading], found: list[tuple[str, int]]
) -> list[tuple[str, int]]:
    """Undo the shift an optional title puts on everything below it.

    When the found outline starts its top level with an optional heading (a document
    title the expectation leaves optional) and puts every other heading below it, the
    other headings are moved up by that shift, so that listing the title neither
    pushes sections past ``complete_to_level`` nor makes every level wrong.
    """
    optional = {normalize(h.title) for h in wanted if h.optional}
    required_levels = [h.level for h in wanted if not h.optional]
    if not optional or not required_levels or not found:
        return found
    top = min(level for _, level in found)
    titles = {i for i, (t, level) in enumerate(found) if level == top and normalize(t) in optional}
    others = [level for i, (_, level) in enumerate(found) if i not in titles]
    if not titles or not others:
        return found
    shift = min(others) - min(required_levels)
    if shift <= 0:
        return found
    return [(t, level if i in titles else level - shift) for i, (t, level) in enumerate(found)]


def _title_level(item: Any) -> tuple[str, int]:
    if isinstance(item, Mapping):
        return str(item["title"]), int(item["level"])
    if isinstance(item, tuple) and len(item) == 2:
        return str(item[0]), int(item[1])
    return str(item.title), int(item.level)


def score(expected: Expected, headings: Iterable[Any] | None, error: str | None = None) -> Score:
    """Compare found ``headings`` (objects with ``.title``/``.level``, mappings, or
    ``(title, level)`` pairs) with ``expected``.

    Pass ``error`` (the message of a raised ``DocumentError``) instead of headings when
    reading or drafting failed. For an expected error, precision and recall are 1.0
    when the message contains the keyword and 0.0 otherwise.
    """
    limit = expected.complete_to_level
    wanted = [h for h in expected.headings if h.level <= limit]
    found = [
        (title, level)
        for title, level in _undo_title_shift(wanted, list(map(_title_level, headings or ())))
        if level <= limit
    ]
    if expected.outcome == "error":
        ok = error is not None and str(expected.error_contains).casefold() in error.casefold()
        return Score(
            document=expected.document,
            expected_n=0,
            found_n=len(found),
            matched=0,
            precision=1.0 if ok else 0.0,
            recall=1.0 if ok else 0.0,
            level_accuracy=None,
            outcome_ok=ok,
            error=error,
            extra=tuple(t for t, _ in found),
        )

    required = sum(not h.optional for h in wanted)
    if error is not None:
        return Score(
            document=expected.document,
            expected_n=required,
            found_n=0,
            matched=0,
            precision=0.0,
            recall=0.0,
            level_accuracy=None,
            outcome_ok=False,
            error=error,
            missing=tuple(h.title for h in wanted if not h.optional),
        )

    matcher = difflib.SequenceMatcher(
        None, [normalize(h.title) for h in wanted], [normalize(t) for t, _ in found], autojunk=False
    )
    pairs = [
        (block.a + k, block.b + k)
        for block in matcher.get_matching_blocks()
        for k in range(block.size)
    ]
    matched_wanted = {i for i, _ in pairs}
    matched_found = {j for _, j in pairs}
    real_pairs = [(i, j) for i, j in pairs if not wanted[i].optional]
    optional_found = len(pairs) - len(real_pairs)
    matched = len(real_pairs)
    found_n = len(found) - optional_found
    wrong_level = tuple(
        (wanted[i].title, wanted[i].level, found[j][1])
        for i, j in real_pairs
        if wanted[i].level != found[j][1]
    )
    return Score(
        document=expected.document,
        expected_n=required,
        found_n=found_n,
        matched=matched,
        precision=_ratio(matched, found_n, required),
        recall=_ratio(matched, required, found_n),
        level_accuracy=(matched - len(wrong_level)) / matched if matched else None,
        outcome_ok=True,
        missing=tuple(
            h.title for i, h in enumerate(wanted) if i not in matched_wanted and not h.optional
        ),
        extra=tuple(t for j, (t, _) in enumerate(found) if j not in matched_found),
        wrong_level=wrong_level,
    )
