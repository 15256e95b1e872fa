"""Search a finished document task: the sections closest to a query."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from segue.docs import embed as embedding
from segue.docs.model import DocumentError

PREVIEW_CHARS = 240
TITLE_WEIGHT = 0.3
"""How much a query's likeness to a section's title counts, next to its body's."""


def search(
    artifacts: Mapping[str, Any],
    read_blob: Callable[[str], bytes],
    query: str,
    k: int = 5,
    *,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """The ``k`` sections of a ``doc_ingest`` task best matching ``query``, best first.

    Args:
        artifacts: The task's current artifacts by step (``directory_parse`` and ``embed``).
        read_blob: Reads a blob by sha256 (the vectors live there).
        query: Words to look for, in any language.
        k: How many results.
        status: The task's status, to say why a task cannot be searched.

    A section's score is its body's cosine similarity to the query, blended
    with how much the query looks like its title (character n-grams), so a
    query that names a section finds it even next to short sections.

    Raises:
        DocumentError: The task has no embedded sections (yet, or at all).
    """
    parsed, embedded = artifacts.get("directory_parse"), artifacts.get("embed")
    if not isinstance(parsed, dict) or not isinstance(embedded, dict):
        raise DocumentError(_why_not(status))
    vectors = embedding.from_npy(read_blob(embedded["vectors"])).astype(np.float32)
    idf = embedding.from_npy(read_blob(embedded["idf"])) if embedded.get("idf") else None
    space = embedding.Embedding(embedded["embedder"], vectors, idf)
    body = dict(embedding.rank(query, space, len(vectors)))
    by_id = {s["id"]: s for s in parsed["sections"]}
    wanted = _grams(query)
    if not wanted:
        return []
    blended = []
    for row, section_id in enumerate(embedded["section_ids"]):
        title = _likeness(wanted, _grams(by_id[section_id]["title"]))
        blended.append((row, (1 - TITLE_WEIGHT) * body.get(row, 0.0) + TITLE_WEIGHT * title))
    blended.sort(key=lambda item: -item[1])
    results = []
    for row, score in blended[:k]:
        section = by_id[embedded["section_ids"][row]]
        results.append(
            {
                "section": section["id"],
                "title": section["title"],
                "path": section["path"],
                "score": round(score, 4),
                "start": section["start"],
                "end": section["end"],
                "preview": " ".join(section["text"][:PREVIEW_CHARS].split()),
            }
        )
    return results


def _why_not(status: str | None) -> str:
    if status == "FAILED":
        return "This task failed before its sections were embedded; there is nothing to search."
    if status in ("COMPLETED", "CANCELLED"):
        return (
            f"This task is {status} without embedded sections; only doc_ingest tasks that "
            "completed can be searched."
        )
    return "This task has no embedded sections yet; search it once it completes."


def _grams(text: str) -> set[str]:
    folded = embedding.fold(text)
    return {folded[i : i + n] for n in (2, 3) for i in range(len(folded) - n + 1)} or (
        {folded} if folded else set()
    )


def _likeness(a: set[str], b: set[str]) -> float:
    """Dice coefficient of two n-gram sets: 1 for the same title, 0 for nothing shared."""
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0
