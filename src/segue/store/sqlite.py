"""SQLite: the embedded default. WAL mode, ``synchronous=FULL``, writer lock at BEGIN.

Every transaction starts with ``BEGIN IMMEDIATE``, so the one writer lock is
taken before the first read; a transaction never has to be retried because a
read lock could not be upgraded. ``synchronous=FULL`` makes every commit
durable on power loss; ``NORMAL`` (opt-in) is still safe on a process crash.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

DEFAULT_BUSY_TIMEOUT_MS = 30_000
SYNCHRONOUS_MODES = ("FULL", "EXTRA", "NORMAL")


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
        write = conn.get_execution_options().get("segue_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
