"""How fast a big document goes through the whole document pipeline, and its peak memory.

A benchmark, not a test. It builds a ~5 MB plain-text document from real text
(War and Peace from the shared corpus, repeated to the size; PEP 8 from the
package when the corpus is absent), and in a fresh child process per round
runs ``doc_ingest`` with ``auto_confirm`` on an embedded SQLite file:
upload -> abstract -> (confirm skipped) -> split -> embed, every step durable.
Each step's duration comes from the task's own step timestamps; the child's
peak resident memory from ``getrusage``.

The floor, measured in the same child before the pipeline: reading the bytes,
decoding them, and writing the text once to the blob store (sha256 + fsync) —
the I/O no document pipeline can avoid. The report gives medians over rounds
and the pipeline / floor ratio.

Usage::

    .venv/bin/python bench/doc_pipeline.py                # 5 MB, 3 rounds
    .venv/bin/python bench/doc_pipeline.py --mb 1 --rounds 5 --json
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CORPUS_TEXT = REPO.parent / "shared" / "corpus" / "war-and-peace.txt"
SAMPLE = REPO / "src" / "segue" / "docs" / "samples" / "pep-0008.rst"
STEPS = ("upload", "abstract", "directory_parse", "embed")


def build_document(target: Path, mb: float) -> str:
    """Write a ``mb``-megabyte text made of real text to ``target``; returns its source."""
    source = CORPUS_TEXT if CORPUS_TEXT.exists() else SAMPLE
    text = source.read_bytes()
    size = int(mb * 1024 * 1024)
    target.write_bytes((text * (size // len(text) + 1))[:size])
    return source.name


def child(path: str, folder: str) -> dict[str, Any]:
    """One round, in this (fresh) process."""
    from segue import Segue
    from segue.pipelines import path as pipeline_path

    data_path, work = Path(path), Path(folder)
    start = time.perf_counter()
    data = data_path.read_bytes()
    text = data.decode("utf-8", errors="replace")
    with Segue(f"sqlite:///{work / 'floor.db'}", blob_dir=work / "floor-blobs") as floor:
        floor.service.put_file(text.encode())
    floor_s = time.perf_counter() - start

    with Segue(f"sqlite:///{work / 'bench.db'}", blob_dir=work / "blobs") as engine:
        engine.register(pipeline_path("doc_ingest").read_text(encoding="utf-8"))
        begin = time.perf_counter()
        sha = engine.service.put_file(data)
        config = {"document": {"sha256": sha, "filename": data_path.name}, "auto_confirm": True}
        view = engine.start("doc_ingest", config)
        total_s = time.perf_counter() - begin
        steps = {s["id"]: s for s in view["steps"]}
        sections = len(engine.artifacts(view["id"])["directory_parse"]["sections"])
    durations = {
        name: _seconds(steps[name]["started_at"], steps[name]["finished_at"]) for name in STEPS
    }
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "status": view["status"],
        "total_s": total_s,
        "floor_s": floor_s,
        "steps_s": durations,
        "sections": sections,
        "peak_rss_mb": peak_mb,
    }


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def run_round(document: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(document), folder],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=5.0, help="document size in MiB")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    with tempfile.TemporaryDirectory() as folder:
        document = Path(folder) / "big.txt"
        source = build_document(document, args.mb)
        rounds = [run_round(document) for _ in range(args.rounds)]
    assert all(r["status"] == "COMPLETED" for r in rounds), rounds
    median = statistics.median
    report = {
        "document": f"{args.mb:g} MiB of {source}",
        "rounds": args.rounds,
        "sections": rounds[0]["sections"],
        "total_s": median(r["total_s"] for r in rounds),
        "floor_s": median(r["floor_s"] for r in rounds),
        "steps_s": {s: median(r["steps_s"][s] for r in rounds) for s in STEPS},
        "peak_rss_mb": max(r["peak_rss_mb"] for r in rounds),
    }
    report["ratio_to_floor"] = report["total_s"] / report["floor_s"]
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['document']}, {report['sections']} sections, {args.rounds} rounds (medians)")
    for step, seconds in report["steps_s"].items():
        print(f"  {step:<16} {seconds:6.2f} s")
    print(f"  {'whole pipeline':<16} {report['total_s']:6.2f} s")
    floor, ratio = report["floor_s"], report["ratio_to_floor"]
    print(f"  {'floor (read+write)':<16} {floor:6.2f} s   ratio {ratio:.1f}x")
    print(f"  peak RSS         {report['peak_rss_mb']:6.0f} MB")


if __name__ == "__main__":
    main()
