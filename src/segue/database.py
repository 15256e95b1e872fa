"""Operator tasks on a database: its schema revision, upgrading it, an online backup."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from segue.errors import MigrationRequired, OperatorError, StoreUnavailable
from segue.store import default_blob_dir, open_engine
from segue.store.blobs import INCOMING
from segue.store.migrate import current_revision, head_revision, known_revisions, upgrade
from segue.store.sqlite import backup_to


def schema_status(url: str) -> dict[str, Any]:
    """Where the schema stands: ``current`` (None: empty), ``head``, and ``state``
    (``current``, ``behind``, ``empty`` or ``newer``: written by a newer Segue).

    Raises:
        StoreUnavailable: the database does not answer.
    """  # noqa: D205
    _refuse_a_missing_file(url)
    backend = open_engine(url)
    try:
        current = _revision(backend.engine, url)
    finally:
        backend.engine.dispose()
    head = head_revision()
    if current is None:
        state = "empty"
    elif current == head:
        state = "current"
    elif current in known_revisions():
        state = "behind"
    else:
        state = "newer"
    return {"current": current, "head": head, "state": state}


def upgrade_schema(url: str) -> dict[str, Any]:
    """Bring the schema to this Segue's newest revision; returns before and after.

    Raises:
        MigrationRequired: the database was written by a newer Segue.
        StoreUnavailable: the database does not answer.
    """
    backend = open_engine(url)
    try:
        before = _revision(backend.engine, url)
        try:
            upgrade(backend.engine, lock=backend.migration_lock)
        except MigrationRequired:
            raise
        except Exception as exc:
            raise StoreUnavailable(f"Cannot upgrade the database: {_why(exc)}") from exc
        return {"before": before, "after": head_revision()}
    finally:
        backend.engine.dispose()


def backup(url: str, path: str | os.PathLike[str], blob_dir: str | None = None) -> dict[str, Any]:
    """An online, consistent copy of a SQLite database at ``path``, its blobs beside it.

    The database is copied with SQLite's backup API (writers carry on; the
    copy is one snapshot), then the blob folder to ``<path>-blobs``. Blobs are
    immutable and written before the commit that refers to them, so every blob
    the copy names is there. Open the copy as ``sqlite:///<path>``.

    Raises:
        OperatorError: not a SQLite file database, there is none at its path, or ``path``
            exists already.
    """
    _refuse_a_missing_file(url)
    backend = open_engine(url)
    try:
        if backend.engine.dialect.name != "sqlite" or backend.engine.url.database in (
            None,
            "",
            ":memory:",
        ):
            raise OperatorError(
                "segue db backup copies SQLite database files; back up PostgreSQL with "
                "pg_dump --format=custom (see docs/operations.md), and copy the blob folder."
            )
        target = Path(path)
        if target.name in ("", ".", ".."):
            raise OperatorError(f"'{path}' names no file; give the backup a new file's path.")
        blobs_target = default_blob_dir(f"sqlite:///{target}")
        for existing in (target, blobs_target):
            if existing.exists():
                raise OperatorError(f"{existing} exists already; back up to a new path.")
        try:  # a destination that cannot be written is said as such, not as a read error
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch(exist_ok=False)
        except OSError as exc:
            raise OperatorError(f"Cannot write the backup at {target}: {exc.strerror}.") from exc
        try:
            with backend.engine.connect() as conn:
                backup_to(conn, target)
        except Exception as exc:
            target.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise OperatorError(
                    f"Cannot write the backup at {target}: {exc.strerror}."
                ) from exc
            raise StoreUnavailable(f"Cannot read the database: {_why(exc)}") from exc
        source_blobs = Path(blob_dir) if blob_dir else default_blob_dir(url)
        copied = 0
        if source_blobs.is_dir():
            shutil.copytree(source_blobs, blobs_target, ignore=shutil.ignore_patterns(INCOMING))
            copied = sum(1 for p in blobs_target.rglob("*") if p.is_file())
        return {"path": str(target), "blobs": str(blobs_target), "blob_files": copied}
    finally:
        backend.engine.dispose()


def _refuse_a_missing_file(url: str) -> None:
    """A read of a SQLite file that is not there would create an empty one (a typo "works")."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return  # opening it says why
    path = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if path and path != ":memory:" and not Path(path).exists():
        raise OperatorError(f"There is no database at {path}; check --database-url.")


def _revision(engine: Any, url: str) -> str | None:
    try:
        return current_revision(engine)
    except Exception as exc:
        raise StoreUnavailable(f"Cannot read the database: {_why(exc)}") from exc


def _why(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).strip()
