"""Where the real documents are, and starting the document pipeline on one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from segue import Segue
from segue.pipelines import path as pipeline_path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "docs"
SAMPLES = REPO / "src" / "segue" / "docs" / "samples"
CORPUS = Path(os.environ.get("SEGUE_CORPUS") or REPO.parent / "shared" / "corpus")


def corpus_files() -> list[Path]:
    """Every document of the shared corpus (empty when it is not beside the repo)."""
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.iterdir() if p.is_file() and p.name != "MANIFEST.md")


def document(name: str) -> Path:
    """A real document by name: the repo's fixtures and samples first, then the corpus."""
    for folder in (FIXTURES, SAMPLES, CORPUS):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(name)


def start_document(engine: Segue, data: bytes, filename: str, **config: Any) -> dict[str, Any]:
    """Register doc_ingest, store the file, start a task on it; returns the view."""
    engine.register(pipeline_path("doc_ingest").read_text(encoding="utf-8"), "doc_ingest.yaml")
    sha256 = engine.service.put_file(data)
    return engine.start(
        "doc_ingest", {"document": {"sha256": sha256, "filename": filename}, **config}
    )
