"""Shared fixtures: a clean SEGUE_* environment, counters, and engines per backend."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from segue import Segue

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"

BACKENDS = ["sqlite-file", "sqlite-memory"]


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Strip SEGUE_* from the environment; give each test its own counters folder."""
    for key in list(os.environ):
        if key.startswith("SEGUE_"):
            monkeypatch.delenv(key)
    counters = tmp_path / "counters"
    counters.mkdir()
    monkeypatch.setenv("SEGUE_TEST_COUNTERS", str(counters))
    return counters


@pytest.fixture
def counters(clean_environ: Path) -> Path:
    return clean_environ


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite-memory":
        return "sqlite://"
    return f"sqlite:///{tmp_path / 'segue.db'}"


@pytest.fixture
def engine(database_url: str, tmp_path: Path) -> Iterator[Segue]:
    with Segue(database_url, blob_dir=tmp_path / "blobs") as e:
        yield e


@pytest.fixture
def shared() -> Path:
    """The folder holding ``examples/`` (a copy of the project's shared examples)."""
    return FIXTURES
