"""Durable storage: one contract, one SQL implementation, a dialect per backend."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError

from segue.errors import OperatorError, StoreUnavailable, UnsafeDurability
from segue.store.base import Artifact, NewArtifact, PipelineRecord, RunClaim, Store, TaskPage, Tx
from segue.store.blobs import BlobStore
from segue.store.checkpoint import Checkpointer
from segue.store.migrate import upgrade
from segue.store.sql import Dialect, SqlStore
from segue.store.wake import WakeFolder, wake_folder

__all__ = [
    "Artifact",
    "Backend",
    "BlobStore",
    "NewArtifact",
    "PipelineRecord",
    "RunClaim",
    "SqlStore",
    "Store",
    "TaskPage",
    "Tx",
    "check_durability",
    "default_blob_dir",
    "open_engine",
    "open_store",
]

log = structlog.get_logger("segue.store")


def default_blob_dir(url: str) -> Path:
    """``<database>-blobs`` next to a SQLite file, else ``./segue-blobs``."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        db = Path(parsed.database)
        return db.with_name(db.name + "-blobs")
    return Path("segue-blobs")


def open_store(
    url: str,
    *,
    blob_dir: str | os.PathLike[str] | None = None,
    sqlite_synchronous: str = "FULL",
    allow_unsafe: bool = False,
    pool_size: int | None = None,
) -> SqlStore:
    """Open (and migrate) the store a URL names: ``sqlite:///path.db`` or ``postgresql://…``.

    Args:
        url: The database.
        blob_dir: Where large artifacts go (default beside a SQLite file).
        sqlite_synchronous: ``FULL`` (default), ``EXTRA`` or ``NORMAL``.
        allow_unsafe: Open a database that would lose acknowledged writes on a crash
            (logged loudly) instead of refusing it.
        pool_size: PostgreSQL connections kept open (a burst opens half as many more).

    Raises:
        OperatorError: the URL names a backend Segue does not support.
        UnsafeDurability: durability is off and ``allow_unsafe`` is not set.
        MigrationRequired: the schema was written by a newer Segue.
        StoreUnavailable: the database cannot be opened.
    """
    backend = open_engine(url, sqlite_synchronous=sqlite_synchronous, pool_size=pool_size)
    engine = backend.engine
    try:
        unsafe = check_durability(backend, allow_unsafe=allow_unsafe)
        try:
            upgrade(engine, lock=backend.migration_lock)
        except OperatorError:
            raise
        except Exception as exc:
            raise StoreUnavailable(f"Cannot open the database at {shown(url)}: {exc}") from exc
        blob_root = Path(blob_dir or default_blob_dir(url))
        if blob_root.exists() and not blob_root.is_dir():
            raise OperatorError(
                f"The blob folder {blob_root} is a file; point --blob-dir at a folder."
            )
        store = SqlStore(
            engine, BlobStore(blob_root), backend.dialect(), url, **backend.store_options
        )
        store.unsafe = unsafe
        return store
    except BaseException:
        engine.dispose()
        raise


@dataclass(frozen=True, slots=True)
class Backend:
    """A database's engine and what its dialect module says about it."""

    engine: Engine
    dialect: Callable[[], Dialect]
    """The store's hooks (may ask the database)."""
    durability: Callable[[Connection], list[str]]
    """What in the database's settings would lose acknowledged commits."""
    store_options: dict[str, Any] = field(default_factory=dict)
    """Extra keyword arguments of :class:`SqlStore` (SQLite: its writer lock, its checkpointer)."""
    migration_lock: Callable[[Connection], None] | None = None
    """Taken before migrating, so that processes starting together migrate one at a time
    (SQLite's write lock does that by itself)."""


def open_engine(
    url: str, *, sqlite_synchronous: str = "FULL", pool_size: int | None = None
) -> Backend:
    """The engine a URL names, with its dialect's hooks (nothing is migrated).

    Raises:
        OperatorError: the URL is not one Segue supports.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        raise OperatorError(
            f"'{shown(url)}' is not a database URL (try sqlite:///segue.db or "
            "postgresql://user:password@host:5432/db; a password's @, : and / are written "
            "%40, %3A and %2F)."
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "postgres":  # the short scheme libpq and most hosting providers hand out
        url, backend = "postgresql" + url[len("postgres") :], "postgresql"
    if backend == "postgresql":
        from segue.store import postgres

        try:
            size = pool_size or postgres.DEFAULT_POOL_SIZE
            pg = postgres.create_engine(url, pool_size=size, max_overflow=max(1, size // 2))
        except ValueError as exc:
            raise OperatorError(f"{str(exc)[0].upper()}{str(exc)[1:]}.") from exc
        except ImportError as exc:
            raise OperatorError(
                "PostgreSQL needs psycopg 3: install it with pip install 'psycopg[binary]'."
            ) from exc
        return Backend(
            pg,
            lambda: _pg_dialect(pg, url),
            postgres.durability_problems,
            migration_lock=postgres.migration_lock,
        )
    if backend != "sqlite":
        raise OperatorError(
            f"Database backend '{backend}' is not supported; use sqlite:///path.db or "
            "postgresql://host/db."
        )
    from segue.store import sqlite

    writer_lock = checkpointer = wake = None
    if parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        writer_lock = Path(parsed.database + "-writer.lock")
        wake = WakeFolder(wake_folder(parsed.database))
        checkpointer = Checkpointer(
            Path(parsed.database), busy_timeout_ms=sqlite.DEFAULT_BUSY_TIMEOUT_MS
        )
    try:
        engine = sqlite.create_engine(
            url, synchronous=sqlite_synchronous, autocheckpoint=checkpointer is None
        )
    except ValueError as exc:
        raise OperatorError(f"{exc} (SEGUE_SQLITE_SYNCHRONOUS).") from exc
    database = parsed.database
    return Backend(
        engine,
        lambda: Dialect(lock_rows=False, skip_locked=False, serialize_writes=True),
        lambda conn: sqlite.durability_problems(conn, database),
        store_options={"writer_lock": writer_lock, "checkpointer": checkpointer, "wake": wake},
    )


def _pg_dialect(engine: Engine, url: str) -> Dialect:
    from segue.store import postgres

    try:
        return postgres.dialect(engine)
    except Exception as exc:
        raise StoreUnavailable(f"Cannot open the database at {shown(url)}: {exc}") from exc


def check_durability(backend: Backend, *, allow_unsafe: bool) -> list[str]:
    """Refuse (or with ``allow_unsafe``, log loudly) a database that would lose commits.

    Returns the problems found (empty: durable).

    Raises:
        UnsafeDurability: there are problems and ``allow_unsafe`` is not set.
        StoreUnavailable: the database does not answer.
    """
    try:
        with backend.engine.connect() as conn:
            problems = backend.durability(conn)
    except Exception as exc:
        raise StoreUnavailable(
            f"Cannot open the database at {shown(str(backend.engine.url))}: "
            f"{str(getattr(exc, 'orig', None) or exc).strip()}"
        ) from exc
    if problems and not allow_unsafe:
        raise UnsafeDurability(
            f"Refusing to start: {'; '.join(problems)}. Fix the setting, or pass "
            "--allow-unsafe (SEGUE_ALLOW_UNSAFE=1) to run anyway and risk losing "
            "acknowledged work.",
            problems=problems,
        )
    for problem in problems:
        log.warning("UNSAFE: durability is off, acknowledged work can be lost", problem=problem)
    return problems


def shown(url: str) -> str:
    """A URL fit for a message: the password hidden, in the user part or the query.

    In a URL that does not parse, everything between the scheme and the last ``@`` is hidden.
    """
    try:
        text = make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        head, at, host = url.rpartition("@")
        scheme = re.match(r"[A-Za-z][\w+.-]*:?/*", head) if at else None
        text = f"{scheme.group() if scheme else ''}***@{host}" if at else url
    return re.sub(r"(?i)(password=)[^&]*", r"\1***", text)
