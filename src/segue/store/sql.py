"""The one SQL implementation of the store contract (SQLAlchemy Core).

Dialect modules (:mod:`segue.store.sqlite`, later PostgreSQL) only build the
engine and supply :class:`Dialect` hooks; no query here branches on the backend.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from segue.core.task import Event, TaskState
from segue.errors import (
    EngineError,
    InvalidCommand,
    PipelineNotFound,
    StoreUnavailable,
    TaskNotFound,
    UserError,
    VersionConflict,
)
from segue.store import schema as t
from segue.store.base import (
    Artifact,
    ExpiredRun,
    NewArtifact,
    PipelineRecord,
    RunClaim,
    TaskPage,
    iter_chunks,
)
from segue.store.blobs import BlobStore
from segue.types import JSONValue, isoformat

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class Dialect:
    """Backend hooks: how to lock a task row and how to pick claimable runs."""

    lock_rows: bool
    """Add ``FOR UPDATE`` to locked reads (SQLite locks the whole database instead)."""
    skip_locked: bool
    """Add ``SKIP LOCKED`` to the claim query."""


def dumps(value: Any) -> str:
    """Compact JSON text (UTF-8 kept as is)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class SqlStore:
    """The store on any SQLAlchemy engine that the dialect hooks describe."""

    def __init__(self, engine: Engine, blobs: BlobStore, dialect: Dialect, url: str) -> None:
        self.engine = engine
        self.blobs = blobs
        self.dialect = dialect
        self.url = url
        self.statements = Statements(dialect)

    # -- transactions -----------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[SqlTx]:
        """One atomic unit of work (driver errors become :class:`StoreUnavailable`)."""
        with (
            self._translate(),
            self.engine.connect().execution_options(segue_write=True) as conn,
            conn.begin(),
        ):
            yield SqlTx(conn, self)

    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except EngineError:
            raise
        except (OperationalError, IntegrityError, DBAPIError) as exc:
            raise StoreUnavailable(
                f"The database refused the operation: {str(exc.orig).strip() or exc}."
            ) from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._translate(), self.engine.connect() as conn:
            yield conn

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
            tx.conn.execute(
                sa.insert(t.pipelines).values(
                    name=record.name,
                    version=record.version,
                    content_hash=record.content_hash,
                    source=record.source,
                    created_at=record.created_at,
                )
            )
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
        with self._read() as conn:
            row = conn.execute(self.statements.get_task, {"id": task_id}).first()
        if row is None:
            raise _not_found(task_id)
        return TaskState.from_json(json.loads(row.state))

    def list_tasks(
        self,
        *,
        status: str | None = None,
        pipeline: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> TaskPage:
        """Newest first, keyset-paginated on the time-ordered id."""
        limit = max(1, min(limit, MAX_PAGE))
        query = sa.select(t.tasks.c.state, t.tasks.c.id).order_by(t.tasks.c.id.desc())
        if status:
            query = query.where(t.tasks.c.status == status)
        if pipeline:
            query = query.where(t.tasks.c.pipeline == pipeline)
        if cursor:
            query = query.where(t.tasks.c.id < decode_cursor(cursor))
        with self._read() as conn:
            rows = conn.execute(query.limit(limit + 1)).all()
        page = [TaskState.from_json(json.loads(r.state)) for r in rows[:limit]]
        more = len(rows) > limit
        return TaskPage(tasks=page, next_cursor=encode_cursor(page[-1].id) if more else None)

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

    def task_status(self, task_id: str) -> str:
        """One column of one row."""
        with self._read() as conn:
            status = conn.execute(self.statements.status, {"id": task_id}).scalar()
        if status is None:
            raise _not_found(task_id)
        return str(status)

    def next_due_ms(self) -> int | None:
        """Earliest not_before of a queued run."""
        query = sa.select(sa.func.min(t.step_runs.c.not_before_ms)).where(
            t.step_runs.c.status == "queued"
        )
        with self._read() as conn:
            value = conn.execute(query).scalar()
        return int(value) if value is not None else None

    def renew_leases(self, owner: str, tokens: Sequence[str], until_ms: int) -> int:
        """Push out the expiry of leases still held."""
        if not tokens:
            return 0
        renewed = 0
        with self.transaction() as tx:
            for chunk in iter_chunks(list(tokens), 500):
                result = tx.conn.execute(
                    sa.update(t.step_runs)
                    .where(
                        t.step_runs.c.lease_owner == owner,
                        t.step_runs.c.lease_token.in_(chunk),
                        t.step_runs.c.status == "running",
                    )
                    .values(lease_expires_ms=until_ms)
                )
                renewed += result.rowcount
        return renewed

    def read_blob(self, sha256: str) -> bytes:
        """Bytes of a blob artifact."""
        return self.blobs.get(sha256)

    def close(self) -> None:
        """Dispose of the connection pool."""
        self.engine.dispose()


class Statements:
    """The hot-path statements, built once per store (SQLAlchemy then reuses their
    compiled form on every call instead of rebuilding and re-keying them)."""

    def __init__(self, dialect: Dialect) -> None:
        tasks, runs, arts = t.tasks.c, t.step_runs.c, t.artifacts.c
        b = sa.bindparam
        lock = sa.select(tasks.state).where(tasks.id == b("id"))
        self.get_task = lock
        self.lock_task = lock.with_for_update() if dialect.lock_rows else lock
        self.insert_task = sa.insert(t.tasks)
        self.update_task = (
            sa.update(t.tasks)
            .where(tasks.id == b("b_id"), tasks.revision == b("b_revision"))
            .values(
                status=b("status"), revision=b("revision"), state=b("state"),
                updated_at=b("updated_at"),
            )
        )  # fmt: skip
        self.insert_events = sa.insert(t.events)
        self.insert_run = sa.insert(t.step_runs)
        claim = (
            sa.select(runs.task_id, runs.step, runs.attempt, runs.idempotency_key)
            .where(runs.status == "queued", runs.not_before_ms <= b("now"))
            .order_by(runs.not_before_ms)
            .limit(b("limit"))
        )
        self.claim = claim.with_for_update(skip_locked=True) if dialect.skip_locked else claim
        self.take_run = (
            sa.update(t.step_runs)
            .where(runs.task_id == b("b_task"), runs.step == b("b_step"),
                   runs.attempt == b("b_attempt"))
            .values(status="running", lease_owner=b("owner"), lease_token=b("token"),
                    lease_expires_ms=b("expires"), started_ms=b("now"))
        )  # fmt: skip
        expired = (
            sa.select(runs.task_id, runs.step, runs.attempt)
            .where(runs.status == "running", runs.lease_expires_ms < b("now"))
            .order_by(runs.lease_expires_ms)
            .limit(b("limit"))
        )
        self.expired = expired.with_for_update(skip_locked=True) if dialect.skip_locked else expired
        self.finish_run = (
            sa.update(t.step_runs)
            .where(runs.task_id == b("b_task"), runs.step == b("b_step"),
                   runs.attempt == b("b_attempt"), runs.lease_token == b("b_token"),
                   runs.status == "running")
            .values(status=b("status"), finished_ms=b("now"), error=b("error"))
        )  # fmt: skip
        self.close_runs = (
            sa.update(t.step_runs)
            .where(runs.task_id == b("b_task"), runs.step == b("b_step"),
                   runs.status.in_(("queued", "running")))
            .values(status=b("status"), finished_ms=b("now"))
        )  # fmt: skip
        self.uncurrent = (
            sa.update(t.artifacts)
            .where(arts.task_id == b("b_task"), arts.step == b("b_step"), arts.current.is_(True))
            .values(current=False)
        )
        self.insert_artifact = sa.insert(t.artifacts)
        self.outputs = sa.select(arts.step, arts.kind, arts.value, arts.sha256).where(
            arts.task_id == b("task"), arts.current.is_(True),
            arts.step.in_(b("steps", expanding=True)),
        )  # fmt: skip
        self.status = sa.select(tasks.status).where(tasks.id == b("id"))


class SqlTx:
    """Writes inside one open transaction."""

    def __init__(self, conn: Connection, store: SqlStore) -> None:
        self.conn = conn
        self.store = store
        self.sql = store.statements

    def insert_task(self, state: TaskState, events: Sequence[Event]) -> None:
        """Insert the state row and first events."""
        self.conn.execute(self.sql.insert_task, _task_row(state))
        self._append(state.id, events)

    def lock_task(self, task_id: str) -> TaskState:
        """Read the state row, locked until commit."""
        row = self.conn.execute(self.sql.lock_task, {"id": task_id}).first()
        if row is None:
            raise _not_found(task_id)
        return TaskState.from_json(json.loads(row.state))

    def save_task(self, previous_revision: int, state: TaskState, events: Sequence[Event]) -> None:
        """Compare-and-set on the revision, then append the events."""
        row = _task_row(state)
        result = self.conn.execute(
            self.sql.update_task,
            {"b_id": state.id, "b_revision": previous_revision, "status": row["status"],
             "revision": row["revision"], "state": row["state"], "updated_at": row["updated_at"]},
        )  # fmt: skip
        if result.rowcount != 1:
            raise InvalidCommand(
                f"Task {state.id} changed while this change was being made; "
                "fetch it and try again.",
                task_id=state.id,
            )
        self._append(state.id, events)

    def _append(self, task_id: str, events: Sequence[Event]) -> None:
        if events:
            self.conn.execute(
                self.sql.insert_events,
                [
                    {"task_id": task_id, "seq": e.seq, "type": e.type.value, "step": e.step,
                     "attempt": e.attempt, "actor": e.actor, "at": isoformat(e.at),
                     "data": dumps(e.data)}
                    for e in events
                ],
            )  # fmt: skip

    def queue_run(
        self, task_id: str, step: str, attempt: int, idempotency_key: str, not_before_ms: int
    ) -> None:
        """Insert a claimable run."""
        self.conn.execute(
            self.sql.insert_run,
            {"task_id": task_id, "step": step, "attempt": attempt, "status": "queued",
             "idempotency_key": idempotency_key, "not_before_ms": not_before_ms},
        )  # fmt: skip

    def claim(self, owner: str, now_ms: int, lease_ms: int, limit: int) -> list[RunClaim]:
        """Take due queued runs (``FOR UPDATE SKIP LOCKED`` where the backend has it)."""
        claims = []
        for row in self.conn.execute(self.sql.claim, {"now": now_ms, "limit": limit}).all():
            token = secrets.token_hex(16)
            self.conn.execute(
                self.sql.take_run,
                {"b_task": row.task_id, "b_step": row.step, "b_attempt": row.attempt,
                 "owner": owner, "token": token, "expires": now_ms + lease_ms, "now": now_ms},
            )  # fmt: skip
            claims.append(
                RunClaim(task_id=row.task_id, step=row.step, attempt=row.attempt, token=token,
                         idempotency_key=row.idempotency_key)
            )  # fmt: skip
        return claims

    def expired(self, now_ms: int, limit: int) -> list[ExpiredRun]:
        """Runs whose lease ran out."""
        rows = self.conn.execute(self.sql.expired, {"now": now_ms, "limit": limit})
        return [ExpiredRun(task_id=r.task_id, step=r.step, attempt=r.attempt) for r in rows]

    def finish_run(self, claim: RunClaim, status: str, now_ms: int, error: str | None) -> bool:
        """Fenced close: only the holder of the current token may finish the run."""
        result = self.conn.execute(
            self.sql.finish_run,
            {"b_task": claim.task_id, "b_step": claim.step, "b_attempt": claim.attempt,
             "b_token": claim.token, "status": status, "now": now_ms, "error": error},
        )  # fmt: skip
        return bool(result.rowcount == 1)

    def close_runs(self, task_id: str, step: str, status: str, now_ms: int) -> None:
        """Close open runs of a step whoever holds them."""
        self.conn.execute(
            self.sql.close_runs,
            {"b_task": task_id, "b_step": step, "status": status, "now": now_ms},
        )

    def put_artifact(self, task_id: str, artifact: NewArtifact, created_at: str) -> None:
        """Make this the step's one current artifact."""
        self.conn.execute(self.sql.uncurrent, {"b_task": task_id, "b_step": artifact.step})
        self.conn.execute(
            self.sql.insert_artifact,
            {"task_id": task_id, "step": artifact.step, "attempt": artifact.attempt,
             "generation": artifact.generation, "current": True, "kind": artifact.kind,
             "value": artifact.value_text, "sha256": artifact.sha256, "size": artifact.size,
             "content_type": artifact.content_type, "meta": artifact.meta_text,
             "created_at": created_at},
        )  # fmt: skip

    def outputs(self, task_id: str, steps: Sequence[str]) -> dict[str, JSONValue]:
        """Current values of the named steps' artifacts."""
        if not steps:
            return {}
        out: dict[str, JSONValue] = {}
        for row in self.conn.execute(self.sql.outputs, {"task": task_id, "steps": list(steps)}):
            text = row.value if row.kind == "json" else self.store.blobs.get(row.sha256).decode()
            out[row.step] = json.loads(text)
        return out

    def idempotent_response(self, scope: str, key: str) -> tuple[str, str] | None:
        """The remembered (request hash, response) for a key."""
        row = self.conn.execute(
            sa.select(t.idempotency.c.request_hash, t.idempotency.c.response).where(
                t.idempotency.c.scope == scope, t.idempotency.c.key == key
            )
        ).first()
        return (row.request_hash, row.response) if row else None

    def forget_responses(self, before: str) -> None:
        """Drop remembered responses created before ``before`` (ISO time)."""
        self.conn.execute(sa.delete(t.idempotency).where(t.idempotency.c.created_at < before))

    def remember_response(
        self, scope: str, key: str, request_hash: str, response: str, created_at: str
    ) -> None:
        """Keep the response for replays of the same key."""
        self.conn.execute(
            sa.insert(t.idempotency).values(
                scope=scope,
                key=key,
                request_hash=request_hash,
                response=response,
                created_at=created_at,
            )
        )


def _task_row(state: TaskState) -> dict[str, Any]:
    raw = state.to_json()
    return {
        "id": state.id,
        "pipeline": state.pipeline,
        "version": state.version,
        "status": state.status.value,
        "revision": state.revision,
        "state": dumps(raw),
        "created_at": raw["created_at"],
        "updated_at": raw["updated_at"],
    }


def _not_found(task_id: str) -> TaskNotFound:
    return TaskNotFound(f"No task has id '{task_id}'.", task_id=task_id)


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
            "data": json.loads(row.data),
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
        value=json.loads(row.value) if row.value is not None else None,
        sha256=row.sha256,
        size=row.size,
        content_type=row.content_type,
        created_at=row.created_at,
        meta=json.loads(row.meta) if row.meta else None,
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
