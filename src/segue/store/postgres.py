"""PostgreSQL: one shared, durable coordinator for many API nodes and workers.

Only what differs from SQLite lives here: the engine and its pool, row locks
(``FOR UPDATE``) instead of one database lock, claims with ``SKIP LOCKED``,
which driver errors are safe to retry, the durability check, and wake-ups by
``LISTEN``/``NOTIFY``. Every query is the shared one in :mod:`segue.store.sql`.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import URL, Connection, Engine, make_url

from segue.store.sql import Dialect

log = structlog.get_logger("segue.store")

DEFAULT_POOL_SIZE = 8
"""Connections a process keeps open (an API node's requests and its workers share them)."""
DEFAULT_MAX_OVERFLOW = 4
"""Extra connections a burst may open beyond the pool, closed again when idle."""
DEFAULT_POOL_TIMEOUT_S = 10.0
"""How long a request waits for a free connection before it is answered 503."""
DEFAULT_CONNECT_TIMEOUT_S = 5
RECONNECT_S = (0.2, 5.0)
"""The listener's back-off between reconnects: first and longest wait."""
DRIVERS = ("postgresql", "postgres", "postgresql+psycopg")
SAFE_SQLSTATES = frozenset({"40001", "40P01"})
"""Serialization failure, deadlock: PostgreSQL rolled the transaction back."""
CONNECTION_SQLSTATE = re.compile(r"^(08|57P0[1-3])")
"""Connection exceptions, and the server shutting down or starting up."""


def normalize_url(url: str) -> URL:
    """``postgresql://`` and ``postgres://`` mean psycopg 3; other drivers are refused.

    Raises:
        ValueError: the URL names another PostgreSQL driver.
    """
    raw = "postgresql" + url[len("postgres") :] if url.startswith("postgres://") else url
    parsed = make_url(raw)
    if parsed.drivername not in DRIVERS:
        raise ValueError(
            f"the driver '{parsed.drivername}' is not supported; use postgresql://… "
            "(Segue talks to PostgreSQL through psycopg 3)"
        )
    return parsed.set(drivername="postgresql+psycopg")


def create_engine(
    url: str,
    *,
    pool_size: int = DEFAULT_POOL_SIZE,
    max_overflow: int = DEFAULT_MAX_OVERFLOW,
    pool_timeout_s: float = DEFAULT_POOL_TIMEOUT_S,
) -> Engine:
    """A pooled engine. A connection is not pinged before each use (a round trip per
    transaction); one the driver knows is broken is replaced at checkout, and after a
    lost connection the whole pool is renewed (see :func:`disconnected`)."""  # noqa: D205,D209
    parsed = normalize_url(url)
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT_S
    if "application_name" not in parsed.query:
        connect_args["application_name"] = "segue"
    engine = sa.create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_s,
        pool_recycle=1800,
        connect_args=connect_args,
    )

    @sa.event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_conn.closed or dbapi_conn.broken:
            raise sa.exc.DisconnectionError("the connection was lost")

    return engine


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a psycopg error (or of the one SQLAlchemy wraps)."""
    orig = getattr(exc, "orig", None) or exc
    return getattr(orig, "sqlstate", None)


def transient(exc: BaseException, committing: bool) -> bool:
    """Whether the failed transaction surely wrote nothing, so running it again is safe.

    A serialization failure or a deadlock always rolls back. A lost connection
    rolls back too, unless it was lost while the COMMIT was on its way: then
    nobody knows, and the caller must decide (an Idempotency-Key makes that safe).
    """
    import psycopg

    state = sqlstate(exc)
    if state in SAFE_SQLSTATES:
        return True
    if committing:
        return False
    orig = getattr(exc, "orig", None) or exc
    if state is not None and CONNECTION_SQLSTATE.match(state):
        return True
    if isinstance(orig, psycopg.OperationalError):
        return True  # no SQLSTATE: the connection was refused, reset or closed
    return bool(getattr(exc, "connection_invalidated", False))


def disconnected(exc: BaseException) -> bool:
    """Whether the error says the connection (or the server) went away."""
    import psycopg

    state = sqlstate(exc)
    if state is not None:
        return bool(CONNECTION_SQLSTATE.match(state))
    orig = getattr(exc, "orig", None) or exc
    return isinstance(orig, psycopg.OperationalError)


def durability_problems(conn: Connection) -> list[str]:
    """What in the server's settings would lose acknowledged commits on a crash."""
    problems = []
    for name, why in (
        ("fsync", "commits are not flushed to disk"),
        ("synchronous_commit", "commits are acknowledged before they are on disk"),
    ):
        value = conn.exec_driver_sql(f"SHOW {name}").scalar()
        if str(value).lower() == "off":
            problems.append(f"PostgreSQL {name} is off: {why}")
    return problems


MIGRATION_LOCK_KEY = 0x5E6E0001
"""The advisory lock that queues processes migrating the same database at once."""


IDEMPOTENCY_LOCK_CLASS = 0x5E6E0002
"""The first half of the two-part advisory locks that queue requests with one
Idempotency-Key (the second is a hash of the key; single-key locks are another space)."""


def migration_lock(conn: Connection) -> None:
    """Hold the migration lock until the migrating transaction ends."""
    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")


def channel(conn: Connection) -> str:
    """The notification channel of the schema the store lives in (one per schema)."""
    schema = conn.exec_driver_sql("SELECT current_schema()").scalar() or "public"
    return f"segue_{schema}"[:63]


def limit_key(pipeline: str, step: str | None) -> int:
    """A 32-bit advisory-lock key for one concurrency limit."""
    return zlib.crc32(f"{pipeline}\x00{step or ''}".encode())


def dialect(engine: Engine) -> Dialect:
    """The hooks of :class:`~segue.store.sql.SqlStore` for PostgreSQL."""
    with engine.connect() as conn:
        name = channel(conn)
    return Dialect(
        lock_rows=True,
        skip_locked=True,
        serialize_writes=False,
        transient=transient,
        disconnected=disconnected,
        notify_sql=f"SELECT pg_notify('{name}', '')",
        limit_lock_sql="SELECT pg_advisory_xact_lock(%(key)s)",
        limit_key=limit_key,
        idempotency_lock_sql=f"SELECT pg_advisory_xact_lock({IDEMPOTENCY_LOCK_CLASS}, "
        "hashtext(%(key)s))",
        listen=lambda callback: Listener(engine, name, callback),
    )


class Listener:
    """A thread on its own connection that calls ``callback`` on every notification.

    When the connection drops it reconnects with a back-off (and calls
    ``callback`` once then, since notifications sent meanwhile are lost); the
    workers' polling covers any notification lost in between.
    """

    def __init__(self, engine: Engine, name: str, callback: Callable[[], object]) -> None:
        self.engine = engine
        self.name = name
        self.callback = callback
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="segue-listen", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop listening (within about a second)."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _connect(self) -> Any:
        dialect = self.engine.dialect
        cargs, cparams = dialect.create_connect_args(self.engine.url)
        cparams.setdefault("connect_timeout", DEFAULT_CONNECT_TIMEOUT_S)
        conn = dialect.loaded_dbapi.connect(*cargs, **cparams, autocommit=True)
        conn.execute(f'LISTEN "{self.name}"')
        return conn

    def _run(self) -> None:
        wait = RECONNECT_S[0]
        while not self._stop.is_set():
            try:
                conn = self._connect()
            except Exception as exc:
                log.info("listen: cannot connect", error=str(exc).strip())
                self._stop.wait(wait)
                wait = min(wait * 2, RECONNECT_S[1])
                continue
            wait = RECONNECT_S[0]
            self.callback()  # whatever was notified while we were away
            try:
                while not self._stop.is_set():
                    for _ in conn.notifies(timeout=1.0, stop_after=1):
                        self.callback()
            except Exception as exc:
                log.info("listen: connection lost", error=str(exc).strip())
                time.sleep(0)
            finally:
                with contextlib.suppress(Exception):  # already broken
                    conn.close()
