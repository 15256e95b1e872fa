"""SQLite: the embedded default. WAL mode, ``synchronous=FULL``, writer lock at BEGIN.

Every transaction starts with ``BEGIN IMMEDIATE``, so the one writer lock is
taken before the first read; a transaction never has to be retried because a
read lock could not be upgraded. ``synchronous=FULL`` makes every commit
durable on power loss; ``NORMAL`` (opt-in) is still safe on a process crash.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

DEFAULT_BUSY_TIMEOUT_MS = 30_000
SYNCHRONOUS_MODES = ("FULL", "EXTRA", "NORMAL")
SYNCHRONOUS_FULL = 2
"""``PRAGMA synchronous`` answers a number: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA."""
NETWORK_FILESYSTEMS = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "9p", "glusterfs", "ceph", "lustre"}
    | {"fuse.sshfs", "fuse.s3fs", "fuse.gcsfuse", "fuse.rclone", "fuse.glusterfs", "gpfs"}
)
"""File systems whose locks and fsync SQLite cannot trust."""


def create_engine(url: str, *, synchronous: str = "FULL", autocheckpoint: bool = True) -> Engine:
    """An engine whose connections are set up for durable, serialised writes
    (``autocheckpoint=False``: the WAL is checkpointed by a :class:`Checkpointer`)."""  # noqa: D205,D209
    if synchronous.upper() not in SYNCHRONOUS_MODES:
        raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}")
    memory = url in ("sqlite://", "sqlite:///:memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if memory:
        kwargs["poolclass"] = StaticPool
    else:
        kwargs["pool_size"] = 8
    engine = sa.create_engine(url, **kwargs)

    @sa.event.listens_for(engine, "connect")
    def _setup(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            if not autocheckpoint:
                cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute(f"PRAGMA busy_timeout={DEFAULT_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # Writers take the lock up front; readers use a deferred (snapshot) transaction.
        # On the DBAPI connection: SQLAlchemy's statement path costs ~15 us of Python here.
        write = conn.get_execution_options().get("segue_write", False)
        conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def durability_problems(conn: Connection, database: str | None) -> list[str]:
    """What would lose acknowledged commits: ``synchronous`` below FULL, a network disk."""
    problems = []
    level = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    if database not in (None, "", ":memory:") and int(level or 0) < SYNCHRONOUS_FULL:
        names = {0: "OFF", 1: "NORMAL"}
        problems.append(
            f"SQLite synchronous is {names.get(int(level or 0), level)}, below FULL: the last "
            "commits can be lost on a power failure"
        )
    if database not in (None, "", ":memory:"):
        try:
            mounts = Path("/proc/mounts").read_text()
        except OSError:  # not Linux: nothing to check against
            mounts = ""
        fs = filesystem_of(Path(database), mounts)
        if fs is not None and fs in NETWORK_FILESYSTEMS:
            problems.append(
                f"the SQLite database is on a network file system ({fs}): its locks and "
                "fsync cannot be trusted; use a local disk or PostgreSQL"
            )
    return problems


def filesystem_of(path: Path, mounts: str) -> str | None:
    """The file system type of the mount holding ``path``, from ``/proc/mounts`` text."""
    target = os.path.realpath(path.parent if not path.exists() else path)
    best, kind = "", None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


def backup_to(conn: Connection, target: Path) -> None:
    """Copy the database into a new file with SQLite's online backup API, and fsync it."""
    import sqlite3

    source = conn.connection.dbapi_connection
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)  # type: ignore[union-attr]
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        copy.close()
    with target.open("rb") as handle:
        os.fsync(handle.fileno())
