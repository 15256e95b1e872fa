"""Durable storage: one contract, one SQL implementation, a dialect per backend."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from segue.errors import OperatorError, StoreUnavailable
from segue.store.base import Artifact, NewArtifact, PipelineRecord, RunClaim, Store, TaskPage, Tx
from segue.store.blobs import BlobStore
from segue.store.checkpoint import Checkpointer
from segue.store.migrate import upgrade
from segue.store.sql import Dialect, SqlStore

__all__ = [
    "Artifact",
    "BlobStore",
    "NewArtifact",
    "PipelineRecord",
    "RunClaim",
    "SqlStore",
    "Store",
    "TaskPage",
    "Tx",
    "default_blob_dir",
    "open_store",
]


def default_blob_dir(url: str) -> Path:
    """``<database>-blobs`` next to a SQLite file, else ``./segue-blobs``."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        db = Path(parsed.database)
        return db.with_name(db.name + "-blobs")
    return Path("segue-blobs")


def open_store(
    url: str, *, blob_dir: str | os.PathLike[str] | None = None, sqlite_synchronous: str = "FULL"
) -> SqlStore:
    """Open (and migrate) the store a URL names: ``sqlite:///path.db``.

    Raises:
        OperatorError: the URL names a backend Segue does not support.
        StoreUnavailable: the database cannot be opened.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise OperatorError(f"'{url}' is not a database URL (try sqlite:///segue.db).") from exc
    backend = parsed.get_backend_name()
    if backend != "sqlite":
        raise OperatorError(
            f"Database backend '{backend}' is not supported yet; use sqlite:///path.db."
        )
    from segue.store import sqlite

    writer_lock = checkpointer = None
    if parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        writer_lock = Path(parsed.database + "-writer.lock")
        checkpointer = Checkpointer(
            Path(parsed.database), busy_timeout_ms=sqlite.DEFAULT_BUSY_TIMEOUT_MS
        )
    try:
        engine = sqlite.create_engine(
            url, synchronous=sqlite_synchronous, autocheckpoint=checkpointer is None
        )
    except ValueError as exc:
        raise OperatorError(f"{exc} (SEGUE_SQLITE_SYNCHRONOUS).") from exc
    try:
        upgrade(engine)
    except OperatorError:
        raise
    except Exception as exc:
        raise StoreUnavailable(f"Cannot open the database at {url}: {exc}") from exc
    blob_root = Path(blob_dir or default_blob_dir(url))
    if blob_root.exists() and not blob_root.is_dir():
        raise OperatorError(f"The blob folder {blob_root} is a file; point --blob-dir at a folder.")
    blobs = BlobStore(blob_root)
    dialect = Dialect(lock_rows=False, skip_locked=False, serialize_writes=True)
    return SqlStore(engine, blobs, dialect, url, writer_lock=writer_lock, checkpointer=checkpointer)
