"""Shared fixtures: a clean SEGUE_* environment, counters, and engines per backend."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from segue import Segue

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"

PG_URL = os.environ.get("SEGUE_TEST_PG_URL") or None
"""A PostgreSQL server for the suite's postgres leg (read now: the fixtures strip SEGUE_*)."""

BACKENDS = ["sqlite-file", "sqlite-memory", *(["postgres"] if PG_URL else [])]

SPECULATION = os.environ.get("SEGUE_TEST_SPECULATION") or None
"""``always``: every SQLite store of the run speculates (a whole-suite check of the
speculative path, which otherwise runs only while another process contends)."""


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


@pytest.fixture(autouse=True)
def speculation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Force ``SEGUE_TEST_SPECULATION`` on every file-backed SQLite store the test opens."""
    if SPECULATION is None:
        return
    from segue.store import SqlStore

    init = SqlStore.__init__

    def forced(self: SqlStore, *args: object, **kwargs: object) -> None:
        init(self, *args, **kwargs)  # type: ignore[arg-type]
        if self.speculation != "never":
            self.speculation = SPECULATION

    monkeypatch.setattr(SqlStore, "__init__", forced)


@pytest.fixture
def counters(clean_environ: Path) -> Path:
    return clean_environ


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite-memory":
        yield "sqlite://"
    elif request.param == "postgres":
        with pg_schema() as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'segue.db'}"


@contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh schema on the test server, dropped afterwards; yields a URL that uses only it."""
    import psycopg
    from sqlalchemy.engine import make_url

    assert PG_URL is not None
    url = make_url(PG_URL)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    schema = f"segue_test_{secrets.token_hex(6)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        scoped = url.update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL of its own schema (the test is skipped without SEGUE_TEST_PG_URL)."""
    if PG_URL is None:
        pytest.skip("SEGUE_TEST_PG_URL is not set")
    with pg_schema() as url:
        yield url


@pytest.fixture
def engine(database_url: str, tmp_path: Path) -> Iterator[Segue]:
    with Segue(database_url, blob_dir=tmp_path / "blobs") as e:
        yield e


@pytest.fixture
def shared() -> Path:
    """The folder holding ``examples/`` (a copy of the project's shared examples)."""
    return FIXTURES
