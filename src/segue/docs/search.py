"""Search a finished document task: the sections closest to a query."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from segue.docs import embed as embedding
from segue.docs.model import DocumentError

PREVIEW_CHARS = 240


def search(
    artifacts: Mapping[str, Any], read_blob: Callable[[str], bytes], query: str, k: int = 5
) -> list[dict[str, Any]]:
    """The ``k`` sections of a ``doc_ingest`` task best matching ``query``, best first.

    Args:
        artifacts: The task's current artifacts by step (``directory_parse`` and ``embed``).
        read_blob: Reads a blob by sha256 (the vectors live there).
        query: Words to look for, in any language.
        k: How many results.

    Raises:
        DocumentError: The task has not embedded its sections yet.
    """
    parsed, embedded = artifacts.get("directory_parse"), artifacts.get("embed")
    if not isinstance(parsed, dict) or not isinstance(embedded, dict):
        raise DocumentError("This task has no embedded sections yet; search it once it completes.")
    vectors = embedding.from_npy(read_blob(embedded["vectors"])).astype(np.float32)
    idf = embedding.from_npy(read_blob(embedded["idf"])) if embedded.get("idf") else None
    found = embedding.rank(query, embedding.Embedding(embedded["embedder"], vectors, idf), k)
    by_id = {s["id"]: s for s in parsed["sections"]}
    results = []
    for row, score in found:
        section = by_id[embedded["section_ids"][row]]
        results.append(
            {
                "section": section["id"],
                "title": section["title"],
                "path": section["path"],
                "score": score,
                "start": section["start"],
                "end": section["end"],
                "preview": " ".join(section["text"][:PREVIEW_CHARS].split()),
            }
        )
    return results
