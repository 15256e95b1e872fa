"""The one SQL implementation of the store contract (SQLAlchemy Core).

Dialect modules (:mod:`segue.store.sqlite`, :mod:`segue.store.postgres`) only build
the engine and supply :class:`Dialect` hooks; no query here branches on the backend.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import StaticPool

from segue.core.task import Event, TaskState
from segue.errors import (
    EngineError,
    PipelineNotFound,
    StoreBusy,
    StoreUnavailable,
    UserError,
    VersionConflict,
)
from segue.store import schema as t
from segue.store.base import (
    Artifact,
    PipelineRecord,
    TaskPage,
    iter_chunks,
)
from segue.store.blobs import BlobStore
from segue.store.checkpoint import Checkpointer
from segue.store.group import MAX_GROUP, GroupCommitter
from segue.store.speculative import SpeculativeTx
from segue.store.statements import Prepared, Statements
from segue.store.tx import SqlTx, _not_found, loads
from segue.store.wake import WakeFolder

T = TypeVar("T")

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class Dialect:
    """Backend hooks: how to lock a task row and how to pick claimable runs."""

    lock_rows: bool
    """Add ``FOR UPDATE`` to locked reads (SQLite locks the whole database instead)."""
    skip_locked: bool
    """Add ``SKIP LOCKED`` to the claim query."""
    serialize_writes: bool = False
    """Queue this process's writers on a lock before they begin (SQLite has one writer at a
    time, and its busy handler sleeps and polls, which starves some writers for a second)."""
    transient: Callable[[BaseException, bool], bool] | None = None
    """``(driver error, committing)``: whether the transaction surely wrote nothing, so the
    service may run it again (raised as :class:`StoreBusy`)."""
    disconnected: Callable[[BaseException], bool] | None = None
    """Whether a driver error means the connection was lost: the pool is then renewed (after
    a server restart every idle connection in it is dead)."""
    notify_sql: str | None = None
    """Run before the commit of a transaction that queued runs (wakes other processes)."""
    limit_lock_sql: str | None = None
    """Run (with ``key``) before counting live runs for a concurrency limit, so that two
    claiming transactions cannot both slip under it (SQLite holds its write lock anyway)."""
    limit_key: Callable[[str, str | None], int] | None = None
    """The lock key of ``(pipeline, step)`` for :attr:`limit_lock_sql`."""
    idempotency_lock_sql: str | None = None
    """Run (with ``key``) before looking up an Idempotency-Key, so that a second request with
    the same key waits for the first one's commit and replays it (SQLite holds its write lock
    anyway)."""
    listen: Callable[[Callable[[], object]], Any] | None = None
    """Start calling a callback on other processes' commits; returns an object with
    ``close()`` (None: this backend only polls)."""


STATE_CACHE_SIZE = 4096
"""Parsed task states kept per process (a lock at a matching revision skips the parse)."""


class SqlStore:
    """The store on any SQLAlchemy engine that the dialect hooks describe."""

    def __init__(
        self,
        engine: Engine,
        blobs: BlobStore,
        dialect: Dialect,
        url: str,
        *,
        writer_lock: Path | None = None,
        checkpointer: Checkpointer | None = None,
        wake: WakeFolder | None = None,
    ) -> None:
        self.engine = engine
        self.blobs = blobs
        self.dialect = dialect
        self.url = url
        self._shared_connection = isinstance(engine.pool, StaticPool)
        """One connection for everyone (an in-memory database): a reader's rollback would
        end an open write transaction, so readers wait for writers, and each writer
        commits on its own."""
        self._checkpointer = checkpointer
        self._wake = wake
        """Wake-ups for the other processes on the same file (SQLite; PostgreSQL notifies
        through the database)."""
        self._group = GroupCommitter(
            lambda: self.engine.connect().execution_options(segue_write=True),
            self._committed,
            writer_lock,
            max_group=1 if self._shared_connection else MAX_GROUP,
        )
        self.statements = Statements(
            engine.dialect, lock_rows=dialect.lock_rows, skip_locked=dialect.skip_locked
        )
        self._state_cache: dict[str, TaskState] = {}
        """Committed states by task id; used only while the row's revision still matches."""
        self._driver_error: type[Exception] = engine.dialect.dbapi.Error  # type: ignore[union-attr]
        self.integrity_error: type[Exception] = engine.dialect.dbapi.IntegrityError  # type: ignore[union-attr]
        self.speculation = (
            "auto" if dialect.serialize_writes and not self._shared_connection else "never"
        )
        """When :meth:`optimistic` runs work outside the write lock first: ``auto`` (while
        another process contends for it), ``always`` or ``never``."""
        self.speculations = {"replayed": 0, "conflicted": 0, "abandoned": 0}
        """How speculative runs ended (see :meth:`optimistic`)."""
        self._listeners: list[Any] = []
        self.unsafe: list[str] = []
        """Why durability is off, when the store was opened with ``allow_unsafe``."""

    # -- transactions -----------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[SqlTx]:
        """One atomic unit of work (driver errors become :class:`StoreUnavailable`)."""
        phase = _Phase()
        if not self.dialect.serialize_writes:
            with (
                self._translate(phase),
                self.engine.connect().execution_options(segue_write=True) as conn,
            ):
                with conn.begin():
                    tx = SqlTx(conn, self)
                    try:
                        yield tx
                        tx.flush()
                        self._before_commit(tx, phase)
                    finally:
                        tx.close()
                self._remember_states(tx.written)
            return
        # One writer at a time on one connection; queued writers share a commit.
        with self._translate(), self._group.member() as (conn, pending):
            tx = SqlTx(conn, self, pending)
            try:
                yield tx
                tx.flush()
            finally:
                # Now, while this writer holds the connection: a cursor finalized later,
                # whenever its owner lets go of it, would reset a statement of the
                # connection that another thread's writer may be running.
                tx.close()
            pending.update(tx.written)
        self._wake_others(tx)

    def optimistic(self, body: Callable[[SqlTx], T]) -> tuple[T, Mapping[str, TaskState]]:
        """Run ``body`` as one transaction; returns its result and the states it wrote.

        While another process contends for SQLite's write lock, ``body`` first runs
        outside the lock on a snapshot, and under the lock only its checked writes run
        (see :mod:`segue.store.speculative`); if what it read has changed meanwhile, it
        runs again under the lock. So ``body`` must act only through the transaction it
        is given, and may be called twice.
        """
        mode = self.speculation
        if mode == "always" or (mode == "auto" and self._group.contended()):
            speculation = self._speculate(body)
            if speculation is not None:
                result, spec = speculation
                if spec.writes_nothing:  # a read of one snapshot: nothing to check or lock
                    return result, {}
                if self._replay(spec):
                    self.speculations["replayed"] += 1
                    self._wake_others(spec)
                    return result, spec.written
                self.speculations["conflicted"] += 1
        with self.transaction() as tx:
            result = body(tx)
        return result, tx.written

    def _replay(self, spec: SpeculativeTx) -> bool:
        """Have a speculative run's writes checked and made in a group (by whichever thread
        holds the connection); False if what it read has changed."""  # noqa: D205,D209

        def work(conn: Connection, pending: dict[str, Any]) -> bool:
            tx = SqlTx(conn, self, pending)
            try:
                held = tx.replay(spec)
                if held:
                    tx.flush()
                    pending.update(tx.written)
                return held
            finally:
                tx.close()

        with self._translate():
            return self._group.replay(work)

    def _speculate(self, body: Callable[[SqlTx], T]) -> tuple[T, SpeculativeTx] | None:
        """Run ``body`` on a snapshot, its writes recorded: None if it raised anything (the
        run under the lock is the one whose answer counts)."""  # noqa: D205,D209
        try:
            with self._translate(), self.engine.connect() as conn, conn.begin():
                tx = SpeculativeTx(conn, self)
                try:
                    result = body(tx)
                    tx.finish()
                finally:
                    tx.close()
        except Exception:  # a stale read, a refusal, a read no replay can check
            self.speculations["abandoned"] += 1
            return None
        return result, tx

    def _wake_others(self, tx: SqlTx) -> None:
        """After a commit: tell other processes' workers about the runs it queued."""
        if tx.unclaimed and self._wake is not None:
            self._wake.notify()

    def _committed(self, written: Mapping[str, TaskState]) -> None:
        self._remember_states(written)
        if self._checkpointer is not None:
            self._checkpointer.committed()

    def _before_commit(self, tx: SqlTx, phase: _Phase) -> None:
        if tx.unclaimed and self.dialect.notify_sql is not None:
            tx.cursor.execute(self.dialect.notify_sql)
        phase.committing = True

    def subscribe(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` when another process commits new work (where the backend can
        tell; otherwise workers find it by polling)."""  # noqa: D205,D209
        if self.dialect.listen is not None:
            self._listeners.append(self.dialect.listen(callback))
        elif self._wake is not None and (listening := self._wake.listen(callback)) is not None:
            self._listeners.append(listening)

    def _remember_states(self, written: Mapping[str, TaskState]) -> None:
        """After a commit: keep the states it wrote, so the next lock of the same task,
        at the same revision, needs no JSON parse."""  # noqa: D205,D209
        cache = self._state_cache
        if len(cache) + len(written) > STATE_CACHE_SIZE:
            for key in list(cache)[: STATE_CACHE_SIZE // 2]:
                cache.pop(key, None)
        cache.update(written)

    @contextmanager
    def _translate(self, phase: _Phase | None = None) -> Iterator[None]:
        try:
            yield
        except EngineError:
            raise
        except (OperationalError, IntegrityError, DBAPIError) as exc:
            self._refuse(exc, str(exc.orig).strip() or str(exc), phase)
        except PoolTimeout as exc:
            raise StoreBusy(
                "Every database connection of this process is busy; try again shortly."
            ) from exc
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"The database refused the operation: {exc}.") from exc
        except Exception as exc:
            if isinstance(exc, self._driver_error):  # raised on the DBAPI cursor directly
                self._refuse(exc, str(exc).strip(), phase)
            raise

    def _refuse(self, exc: Exception, text: str, phase: _Phase | None) -> None:
        """Raise the engine error for a driver error: StoreBusy when a retry is safe."""
        disconnected = self.dialect.disconnected
        if disconnected is not None and disconnected(exc):
            self.engine.dispose()  # connections checked out now are dropped when returned
        transient = self.dialect.transient
        if transient is not None and transient(exc, phase is not None and phase.committing):
            raise StoreBusy(
                f"The database could not finish the operation ({text}); nothing was "
                "written, try again."
            ) from exc
        raise StoreUnavailable(f"The database refused the operation: {text}.") from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        shared = self._group.exclusive() if self._shared_connection else nullcontext()
        with self._translate(), shared, self.engine.connect() as conn:
            yield conn

    def _read_one(self, prepared: Prepared, params: Mapping[str, Any]) -> Any:
        """One row of a single-statement read (no transaction needed)."""
        with self._read() as conn:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                return cursor.execute(prepared.sql, prepared.args(params)).fetchone()
            finally:
                cursor.close()

    # -- pipelines --------------------------------------------------------------------

    def register_pipeline(self, record: PipelineRecord) -> bool:
        """Store a version; False if identical content is already registered."""
        with self.transaction() as tx:
            row = tx.conn.execute(
                sa.select(t.pipelines.c.content_hash).where(
                    t.pipelines.c.name == record.name, t.pipelines.c.version == record.version
                )
            ).first()
            if row is not None:
                if row.content_hash == record.content_hash:
                    return False
                raise VersionConflict(
                    f"Pipeline {record.name} version {record.version} is already registered "
                    "with different content; give the changed definition a new version.",
                    pipeline=record.name,
                    version=record.version,
                )
            try:
                tx.conn.execute(
                    sa.insert(t.pipelines).values(
                        name=record.name,
                        version=record.version,
                        content_hash=record.content_hash,
                        source=record.source,
                        created_at=record.created_at,
                    )
                )
            except IntegrityError as exc:  # another node registered it meanwhile: look again
                raise StoreBusy(
                    f"Pipeline {record.name} version {record.version} was registered at the "
                    "same moment by another process; try again."
                ) from exc
            return True

    def get_pipeline(self, name: str, version: int | None = None) -> PipelineRecord:
        """A version of a pipeline, or its latest."""
        query = sa.select(t.pipelines).where(t.pipelines.c.name == name)
        if version is None:
            query = query.order_by(t.pipelines.c.version.desc()).limit(1)
        else:
            query = query.where(t.pipelines.c.version == version)
        with self._read() as conn:
            row = conn.execute(query).first()
        if row is None:
            which = f"{name} version {version}" if version is not None else name
            raise PipelineNotFound(
                f"No pipeline {which} is registered; register it first.",
                pipeline=name,
                version=version,
            )
        return _pipeline(row)

    def list_pipelines(self) -> list[PipelineRecord]:
        """Every version, by name then version."""
        query = sa.select(t.pipelines).order_by(t.pipelines.c.name, t.pipelines.c.version)
        with self._read() as conn:
            return [_pipeline(row) for row in conn.execute(query)]

    # -- reads ------------------------------------------------------------------------

    def get_task(self, task_id: str) -> TaskState:
        """One row read."""
        row = self._read_one(self.statements.get_task, {"id": task_id})
        if row is None:
            raise _not_found(task_id)
        return self.state_of(task_id, row[0], row[1])

    def state_of(
        self,
        task_id: str,
        text: str,
        revision: int,
        pending: Mapping[str, TaskState] | None = None,
    ) -> TaskState:
        """The state a row holds: one this process wrote at that revision (``pending``:
        written earlier in the same group, not committed yet), else the row parsed."""  # noqa: D205,D209
        cached = (pending and pending.get(task_id)) or self._state_cache.get(task_id)
        if cached is not None and cached.revision == revision:  # nobody else wrote it since
            return cached
        return TaskState.from_json(loads(text))

    def list_tasks(
        self,
        *,
        status: str | None = None,
        pipeline: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        id_prefix: str | None = None,
    ) -> TaskPage:
        """Newest first, keyset-paginated on the time-ordered id."""
        limit = max(1, min(limit, MAX_PAGE))
        c = t.tasks.c
        query = sa.select(c.state, c.id, c.revision).order_by(c.id.desc())
        if id_prefix:
            # A range on the primary key rather than LIKE: no escaping, and it uses the index.
            query = query.where(t.tasks.c.id >= id_prefix, t.tasks.c.id < id_prefix + "\U0010ffff")
        if status:
            query = query.where(t.tasks.c.status == status)
        if pipeline:
            query = query.where(t.tasks.c.pipeline == pipeline)
        if cursor:
            query = query.where(t.tasks.c.id < decode_cursor(cursor))
        with self._read() as conn:
            rows = conn.execute(query.limit(limit + 1)).all()
        page = [self.state_of(r.id, r.state, r.revision) for r in rows[:limit]]
        more = len(rows) > limit
        return TaskPage(tasks=page, next_cursor=encode_cursor(page[-1].id) if more else None)

    def count_tasks(self, *, pipeline: str | None = None) -> dict[tuple[str, str], int]:
        """Tasks per ``(pipeline, status)``, one grouped query."""
        c = t.tasks.c
        query = sa.select(c.pipeline, c.status, sa.func.count()).group_by(c.pipeline, c.status)
        if pipeline:
            query = query.where(c.pipeline == pipeline)
        with self._read() as conn:
            return {(row[0], row[1]): int(row[2]) for row in conn.execute(query)}

    def events(self, task_id: str, after: int = 0, limit: int | None = None) -> list[Event]:
        """Events in seq order."""
        query = (
            sa.select(t.events)
            .where(t.events.c.task_id == task_id, t.events.c.seq > after)
            .order_by(t.events.c.seq)
        )
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            return [_event(row) for row in conn.execute(query)]

    def artifacts(
        self, task_id: str, step: str | None = None, *, current_only: bool = True
    ) -> list[Artifact]:
        """Artifacts by step then attempt."""
        query = (
            sa.select(t.artifacts)
            .where(t.artifacts.c.task_id == task_id)
            .order_by(t.artifacts.c.step, t.artifacts.c.attempt)
        )
        if step is not None:
            query = query.where(t.artifacts.c.step == step)
        if current_only:
            query = query.where(t.artifacts.c.current.is_(True))
        with self._read() as conn:
            return [_artifact(row) for row in conn.execute(query)]

    def latest_version(self, name: str) -> int | None:
        """The highest registered version of a pipeline (None: not registered)."""
        row = self._read_one(self.statements.latest_version, {"name": name})
        return None if row is None or row[0] is None else int(row[0])

    def task_status(self, task_id: str) -> str:
        """One column of one row."""
        row = self._read_one(self.statements.task_status, {"id": task_id})
        if row is None:
            raise _not_found(task_id)
        return str(row[0])

    def next_due_ms(self) -> int | None:
        """Earliest not_before of a queued run."""
        query = sa.select(sa.func.min(t.step_runs.c.not_before_ms)).where(
            t.step_runs.c.status == t.QUEUED
        )
        with self._read() as conn:
            value = conn.execute(query).scalar()
        return int(value) if value is not None else None

    def renew_leases(self, owner: str, tokens: Sequence[str], until_ms: int) -> set[str]:
        """Push out the expiry of leases still held; returns the tokens renewed."""
        held: set[str] = set()
        if not tokens:
            return held
        with self.transaction() as tx:
            for chunk in iter_chunks(list(tokens), 500):
                where = (
                    t.step_runs.c.lease_owner == owner,
                    t.step_runs.c.lease_token.in_(chunk),
                    t.step_runs.c.status == t.RUNNING,
                )
                tx.conn.execute(
                    sa.update(t.step_runs).where(*where).values(lease_expires_ms=until_ms)
                )
                found = tx.conn.execute(sa.select(t.step_runs.c.lease_token).where(*where))
                held.update(str(token) for (token,) in found)
        return held

    def release_leases(self, owner: str) -> int:
        """Let the leases of ``owner`` run out now (a worker stopping early)."""
        runs = t.step_runs.c
        with self.transaction() as tx:
            result = tx.conn.execute(
                sa.update(t.step_runs)
                .where(runs.lease_owner == owner, runs.status == t.RUNNING)
                .values(lease_expires_ms=0)
            )
            return int(result.rowcount)

    def put_blob(self, data: bytes) -> str:
        """Store bytes in the blob folder; returns their sha256."""
        return self.blobs.put(data)

    def read_blob(self, sha256: str) -> bytes:
        """Bytes of a blob."""
        return self.blobs.get(sha256)

    def close(self) -> None:
        """Close the writer's connection and dispose of the pool."""
        for listener in self._listeners:
            listener.close()
        self._listeners.clear()
        if self._wake is not None:
            self._wake.close()
        self._group.close()
        if self._checkpointer is not None:
            self._checkpointer.close()
        self.engine.dispose()


class _Phase:
    """Where a transaction is: ``committing`` once its body has run (an error after
    that may have committed)."""  # noqa: D205,D209

    __slots__ = ("committing",)

    def __init__(self) -> None:
        self.committing = False


def _pipeline(row: Any) -> PipelineRecord:
    return PipelineRecord(
        name=row.name,
        version=row.version,
        content_hash=row.content_hash,
        source=row.source,
        created_at=row.created_at,
    )


def _event(row: Any) -> Event:
    return Event.from_json(
        {
            "seq": row.seq,
            "type": row.type,
            "at": row.at,
            "step": row.step,
            "attempt": row.attempt,
            "actor": row.actor,
            "data": loads(row.data),
        }
    )


def _artifact(row: Any) -> Artifact:
    return Artifact(
        task_id=row.task_id,
        step=row.step,
        attempt=row.attempt,
        generation=row.generation,
        current=bool(row.current),
        kind=row.kind,
        value=loads(row.value) if row.value is not None else None,
        sha256=row.sha256,
        size=row.size,
        content_type=row.content_type,
        created_at=row.created_at,
        meta=loads(row.meta) if row.meta else None,
    )


def encode_cursor(task_id: str) -> str:
    """An opaque page cursor."""
    return base64.urlsafe_b64encode(task_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """Inverse of :func:`encode_cursor`.

    Raises:
        UserError: the cursor was not made by :func:`encode_cursor`.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(
            "The page cursor is malformed; use the next_cursor of the last page.", cursor=cursor
        ) from exc
    if len(raw) != 36:
        raise UserError(
            "The page cursor is malformed; use the next_cursor of the last page.", cursor=cursor
        )
    return raw
