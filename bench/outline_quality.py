"""Outline quality on the shared corpus: drafted headings against hand-written expectations.

For every ``tests/fixtures/outlines/<document>.yaml`` whose document exists (in
``$SEGUE_CORPUS``, default ``<repo>/../shared/corpus``, then ``tests/fixtures/docs/``),
the script reads the bytes, runs ``segue.docs.formats.read_document`` and
``segue.docs.outline.draft_outline``, and scores the headings with
``tests/support/outline_score.py`` (the same scoring the integration test uses):
only levels <= ``complete_to_level`` count, titles are compared normalized, and
expected and found headings are aligned as sequences, so a repeated title
("Added", "CHAPTER I") counts once per position.

Columns: expected / found / matched heading counts, precision, recall, level
accuracy among matched headings, the drafting method, seconds (read + draft), and
whether the document's floor (from its YAML) is met. An expected error counts as
correct when a ``DocumentError`` containing the expected word is raised.

Usage::

    .venv/bin/python bench/outline_quality.py               # rich table
    .venv/bin/python bench/outline_quality.py --markdown    # Markdown table (README)
    .venv/bin/python bench/outline_quality.py --json > outline-quality.json
    .venv/bin/python bench/outline_quality.py -v rfc2616    # one document, with misses
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `python bench/outline_quality.py` puts bench/, not the repo, first
    sys.path.insert(0, str(REPO))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from tests.support.outline_score import (  # noqa: E402
    Expected,
    Score,
    corpus_dirs,
    expected_files,
    find_document,
    load_expected,
    score,
)

from segue.docs.formats import read_document  # noqa: E402
from segue.docs.model import DocumentError  # noqa: E402
from segue.docs.outline import draft_outline  # noqa: E402


@dataclass
class Row:
    document: str
    format: str
    outcome: str
    method: str
    seconds: float
    passed: bool
    score: Score


def run_one(expected: Expected, path: Path) -> Row:
    data = path.read_bytes()
    fmt = "-"
    started = time.perf_counter()
    try:
        doc = read_document(data, expected.document)
        fmt = doc.format
        outline = draft_outline(doc)
    except DocumentError as exc:
        seconds = time.perf_counter() - started
        method, result = "error", score(expected, None, error=str(exc))
    except Exception as exc:  # a crash is a result too: scored 0, never a correct error
        seconds = time.perf_counter() - started
        crash = f"{type(exc).__name__}: {exc}"
        result = score(expected, None, error=crash if expected.outcome == "outline" else None)
        method, result = "crash", replace(result, error=crash)
    else:
        seconds = time.perf_counter() - started
        method, result = outline.method, score(expected, outline.headings)
    return Row(
        expected.document, fmt, expected.outcome, method, seconds, result.meets(expected), result
    )


def collect(only: list[str]) -> tuple[list[Row], list[str]]:
    dirs = corpus_dirs(REPO)
    rows: list[Row] = []
    skipped: list[str] = []
    for file in expected_files():
        expected = load_expected(file)
        if only and not any(word.casefold() in expected.document.casefold() for word in only):
            continue
        path = find_document(expected.document, dirs)
        if path is None:
            skipped.append(expected.document)
            continue
        rows.append(run_one(expected, path))
    return rows, skipped


def macro(rows: list[Row]) -> dict[str, Any]:
    levels = [r.score.level_accuracy for r in rows if r.score.level_accuracy is not None]
    return {
        "documents": len(rows),
        "passed": sum(r.passed for r in rows),
        "precision": statistics.fmean(r.score.precision for r in rows) if rows else 0.0,
        "recall": statistics.fmean(r.score.recall for r in rows) if rows else 0.0,
        "f1": statistics.fmean(r.score.f1 for r in rows) if rows else 0.0,
        "level_accuracy": statistics.fmean(levels) if levels else None,
        "seconds": sum(r.seconds for r in rows),
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _counts(row: Row) -> tuple[str, str, str]:
    s = row.score
    expected_n = "error" if row.outcome == "error" else str(s.expected_n)
    if row.method in ("error", "crash"):
        return expected_n, row.method, "-"
    return expected_n, str(s.found_n), str(s.matched)


HEADERS = (
    "document",
    "format",
    "expected",
    "found",
    "matched",
    "precision",
    "recall",
    "level acc.",
    "method",
    "seconds",
    "floor",
)


def table_rows(rows: list[Row]) -> list[list[str]]:
    out = []
    for row in rows:
        expected_n, found_n, matched = _counts(row)
        out.append(
            [
                row.document,
                row.format,
                expected_n,
                found_n,
                matched,
                _pct(row.score.precision),
                _pct(row.score.recall),
                _pct(row.score.level_accuracy),
                row.method,
                f"{row.seconds:.3f}",
                "ok" if row.passed else "BELOW",
            ]
        )
    return out


def macro_row(summary: dict[str, Any]) -> list[str]:
    return [
        f"macro average, {summary['documents']} docs",
        "",
        "",
        "",
        "",
        _pct(summary["precision"]),
        _pct(summary["recall"]),
        _pct(summary["level_accuracy"]),
        "",
        f"{summary['seconds']:.3f}",
        f"{summary['passed']}/{summary['documents']}",
    ]


def print_rich(rows: list[Row], skipped: list[str], verbose: bool) -> None:
    console = Console()
    if not console.is_terminal:  # piped: do not squeeze the table into 80 columns
        console = Console(width=160)
    table = Table(title="Outline quality (levels <= complete_to_level)")
    numeric = {"expected", "found", "matched", "precision", "recall", "level acc.", "seconds"}
    for header in HEADERS:
        table.add_column(header, justify="right" if header in numeric else "left")
    for cells, row in zip(table_rows(rows), rows, strict=True):
        table.add_row(*cells, style=None if row.passed else "red")
    table.add_section()
    table.add_row(*macro_row(macro(rows)), style="bold")
    console.print(table)
    if skipped:
        console.print(f"skipped (document not found): {', '.join(skipped)}")
    if verbose:
        for row in rows:
            if row.score.missing or row.score.extra or row.score.error or row.score.wrong_level:
                console.print(row.score.explain(limit=40), markup=False, highlight=False)
                for title, want, got in row.score.wrong_level[:20]:
                    console.print(
                        f"  level of {title!r}: expected {want}, found {got}",
                        markup=False,
                        highlight=False,
                    )


def print_markdown(rows: list[Row]) -> None:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    right = {2, 3, 4, 5, 6, 7, 9}
    print(line(list(HEADERS)))
    print("|" + "|".join("---:" if i in right else "---" for i in range(len(HEADERS))) + "|")
    for cells in table_rows(rows):
        cells[0] = f"`{cells[0]}`"
        print(line(cells))
    print(line([f"**{c}**" if c else "" for c in macro_row(macro(rows))]))


def print_json(rows: list[Row], skipped: list[str]) -> None:
    payload = {
        "documents": [
            {
                "document": r.document,
                "format": r.format,
                "outcome": r.outcome,
                "method": r.method,
                "seconds": round(r.seconds, 4),
                "passed": r.passed,
                "expected": r.score.expected_n,
                "found": r.score.found_n,
                "matched": r.score.matched,
                "precision": r.score.precision,
                "recall": r.score.recall,
                "f1": r.score.f1,
                "level_accuracy": r.score.level_accuracy,
                "error": r.score.error,
                "missing": list(r.score.missing),
                "extra": list(r.score.extra),
            }
            for r in rows
        ],
        "macro": macro(rows),
        "skipped": skipped,
    }
    print(json.dumps(payload, ensure_ascii=False, indent=2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="only documents whose name contains one of these")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print JSON instead of a table")
    out.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="list missing and extra headings"
    )
    args = parser.parse_args(argv)
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # font notices, not results
    rows, skipped = collect(args.only)
    if args.json:
        print_json(rows, skipped)
    elif args.markdown:
        print_markdown(rows)
    else:
        print_rich(rows, skipped, args.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
