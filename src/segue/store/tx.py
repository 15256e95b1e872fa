"""One open transaction of the SQL store: its writes and locked reads, on the DBAPI cursor.

The hot statements are compiled once (:mod:`segue.store.statements`) and run on
the connection's own cursor; states written here are kept, so a second look at
the same task in the same transaction needs no read.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from segue.core.task import Event, TaskState
from segue.errors import (
    InvalidCommand,
    TaskNotFound,
)
from segue.store import schema as t
from segue.store.base import (
    ExpiredRun,
    NewArtifact,
    RunClaim,
    iter_chunks,
)
from segue.store.statements import Prepared
from segue.types import JSONValue, cut, isoformat

if TYPE_CHECKING:
    from segue.store.speculative import SpeculativeTx
    from segue.store.sql import SqlStore


_LONG_DIGITS = re.compile(r"\d{19}")
"""A digit run that may be an integer past 64 bits, which orjson turns into a float."""


def loads(text: str | bytes) -> Any:
    """JSON text back to values: orjson, unless the text may hold an integer past 64 bits
    (orjson would make it a float, silently) or something only the standard library reads
    (a lone surrogate escape, NaN)."""  # noqa: D205,D209
    if isinstance(text, bytes):
        text = text.decode()
    if _LONG_DIGITS.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def dumps(value: Any) -> str:
    """Compact JSON text (UTF-8 kept as is), by orjson unless it refuses the value."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers over 64 bits
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class SqlTx:
    """Writes inside one open transaction, on the connection's DBAPI cursor."""

    def __init__(
        self, conn: Connection, store: SqlStore, pending: Mapping[str, TaskState] | None = None
    ) -> None:
        self.conn = conn
        self._pending = pending if pending is not None else {}
        """States earlier writers of the same group wrote (uncommitted, on this connection)."""
        self.store = store
        self.sql = store.statements
        self.cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        self._states: dict[str, TaskState] = {}
        """States written in this transaction: a second look at the same task needs no read."""
        self._unsaved: dict[str, int] = {}
        """Tasks whose new state is not written yet, with the revision their row has:
        :meth:`flush` writes each once, however many changes this transaction made."""
        self._event_rows: list[Any] = []
        """Event rows not inserted yet (in order), for :meth:`flush`."""
        self._locked: dict[str, tuple[str, int]] = {}
        """Rows :meth:`lock_tasks` read (and locked): ``(state JSON, revision)`` by task."""
        self.unclaimed: set[tuple[str, str, int]] = set()
        """Runs this transaction made claimable and did not claim itself: other processes are
        told at commit (a worker that reports and claims in one go takes its own)."""
        self._rows: dict[str, dict[str, Any]] = {}
        """State rows made ahead of :meth:`flush` (by a speculative run, outside the lock)."""

    def close(self) -> None:
        """Close the transaction's cursor (the store does, before the connection moves on)."""
        self.cursor.close()

    def _run(self, prepared: Prepared, params: Mapping[str, Any]) -> Any:
        """A read."""
        self.cursor.execute(prepared.sql, prepared.args(params))
        return self.cursor

    def _write(
        self, prepared: Prepared, params: Mapping[str, Any], expect: int | None = None
    ) -> int:
        """A write; returns how many rows it changed (``expect``: what a speculative
        transaction predicts it will, see :mod:`segue.store.speculative`)."""  # noqa: D205,D209
        return int(self.cursor.execute(prepared.sql, prepared.args(params)).rowcount)

    def _write_many(self, prepared: Prepared, rows: list[Any], expect: int | None = None) -> None:
        """One write statement for each of ``rows`` (already in the driver's form)."""
        self.cursor.executemany(prepared.sql, rows)

    def _write_core(self, statement: sa.Executable) -> None:
        """A write written as a SQLAlchemy Core statement (off the hot path)."""
        self.conn.execute(statement)

    def insert_task(self, state: TaskState, events: Sequence[Event]) -> None:
        """Insert the state row and first events."""
        self._write(self.sql.insert_task, _task_row(state))
        self._append(state.id, events)
        self._states[state.id] = state

    def lock_tasks(self, task_ids: Sequence[str]) -> None:
        """Lock several tasks' rows with one statement, in id order, ahead of
        :meth:`lock_task` (one round trip for a whole batch; and transactions that lock
        overlapping batches this way take the locks in the same order)."""  # noqa: D205,D209
        ids = sorted({i for i in task_ids if i not in self._states and i not in self._locked})
        for chunk in iter_chunks(ids, 256):
            statement = self.sql.lock_tasks(_pad(len(chunk)))
            for task_id, state, revision in self._run(statement, _padded("i", chunk)):
                self._locked[task_id] = (state, revision)

    def lock_task(self, task_id: str) -> TaskState:
        """Read the state row, locked until commit."""
        if task_id in self._states:
            return self._states[task_id]
        row = self._locked.get(task_id)
        if row is None:
            row = self._run(self.sql.lock_task, {"id": task_id}).fetchone()
        if row is None:
            raise _not_found(task_id)
        return self.store.state_of(task_id, row[0], row[1], self._pending)

    def latest_version(self, name: str) -> int | None:
        """The highest registered version of ``name``, as this transaction sees it."""
        row = self._run(self.sql.latest_version, {"name": name}).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    @property
    def written(self) -> dict[str, TaskState]:
        """The states this transaction wrote (what it commits)."""
        return self._states

    def save_task(self, previous_revision: int, state: TaskState, events: Sequence[Event]) -> None:
        """Append the events; the state row is written by :meth:`flush`, once per task."""
        self._unsaved.setdefault(state.id, previous_revision)
        self._append(state.id, events)
        self._states[state.id] = state

    def replay(self, spec: SpeculativeTx) -> bool:
        """Take over the work of a speculative run, if what it read still holds here.

        Checks the revisions of the tasks it read, asks its other reads again, then runs
        its writes, each checked against the rows it predicted. True: this transaction
        now holds that work (the state rows are written by :meth:`flush`). False: nothing
        of it was kept, because something it read has changed since; run the work again
        here. Call it first, before this transaction does anything else.
        """
        self.cursor.execute("SAVEPOINT segue_replay")
        try:
            held = self._replayed(spec)
        except self.store.integrity_error:  # a row made meanwhile: a conflict too
            held = False
        if not held:
            self.cursor.execute("ROLLBACK TO segue_replay")
        self.cursor.execute("RELEASE segue_replay")
        if held:
            self._states.update(spec.written)
            self._unsaved.update(spec._unsaved)
            self._event_rows.extend(spec._event_rows)
            self._rows.update(spec._rows)
            self.unclaimed.update(spec.unclaimed)
        return held

    def _replayed(self, spec: SpeculativeTx) -> bool:
        for chunk in iter_chunks(sorted(spec.read), 256):
            statement = self.sql.revisions(_pad(len(chunk)))
            now = dict(self._run(statement, _padded("i", chunk)).fetchall())
            if any(now.get(task_id) != spec.read[task_id] for task_id in chunk):
                return False
        for method, args, answer in spec.checks:
            if getattr(self, method)(*args) != answer:
                return False
        cursor = self.cursor
        for kind, statement, params, expect in spec.ops:
            if kind == "one":
                changed = cursor.execute(statement, params).rowcount
            elif kind == "many":
                changed = cursor.executemany(statement, params).rowcount
            else:
                changed = self.conn.execute(statement).rowcount
            if expect is not None and changed != expect:
                return False
        return True

    def flush(self) -> None:
        """Write the state rows changed since the last flush, each once, and the events.

        A compare-and-set on the revision each row had (the row is locked, so this
        guards against a bug, not a race). The store calls it at the end of the
        transaction's work, before it commits.
        """
        for task_id, revision in self._unsaved.items():
            row = self._rows.pop(task_id, None) or _task_row(self._states[task_id])
            cursor = self._run(
                self.sql.update_task,
                {
                    "b_id": task_id,
                    "b_revision": revision,
                    "version": row["version"],
                    "status": row["status"],
                    "revision": row["revision"],
                    "state": row["state"],
                    "updated_at": row["updated_at"],
                },
            )
            if cursor.rowcount != 1:
                raise InvalidCommand(
                    f"Task {task_id} changed while this change was being made; "
                    "fetch it and try again.",
                    task_id=task_id,
                )
        self._unsaved.clear()
        if self._event_rows:
            self.cursor.executemany(self.sql.insert_event.sql, self._event_rows)
            self._event_rows.clear()

    def _append(self, task_id: str, events: Sequence[Event]) -> None:
        """Queue the events' rows: :meth:`flush` inserts a transaction's events at once."""
        row = self.sql.insert_event.row
        self._event_rows.extend(
            row(
                (
                    task_id,
                    e.seq,
                    e.type._value_,
                    e.step,
                    e.attempt,
                    e.actor,
                    isoformat(e.at),
                    dumps(e.data),
                )
            )
            for e in events
        )

    def queue_run(
        self, task_id: str, step: str, attempt: int, idempotency_key: str, not_before_ms: int
    ) -> None:
        """Insert a claimable run."""
        self.unclaimed.add((task_id, step, attempt))
        self._write(
            self.sql.insert_run,
            {
                "task_id": task_id,
                "step": step,
                "attempt": attempt,
                "status": "queued",
                "idempotency_key": idempotency_key,
                "not_before_ms": not_before_ms,
            },
        )

    def claim(
        self, owner: str, now_ms: int, lease_ms: int, limit: int, task_id: str | None = None
    ) -> list[RunClaim]:
        """Take due queued runs, of one task or of any (``FOR UPDATE SKIP LOCKED`` where the
        backend has it)."""  # noqa: D205,D209
        claims = []
        rows = self._claimable(now_ms, limit, task_id)
        for task_id, step, attempt, key in rows:
            self.unclaimed.discard((task_id, step, attempt))
            claims.append(
                RunClaim(
                    task_id=task_id,
                    step=step,
                    attempt=attempt,
                    token=secrets.token_hex(16),
                    idempotency_key=key,
                )
            )
        if claims:  # one batch of updates (one round trip where the driver pipelines)
            take = self.sql.take_run
            self._write_many(
                take,
                [
                    take.args(
                        {
                            "b_task": c.task_id,
                            "b_step": c.step,
                            "b_attempt": c.attempt,
                            "owner": owner,
                            "token": c.token,
                            "expires": now_ms + lease_ms,
                            "now": now_ms,
                        }
                    )
                    for c in claims
                ],
                expect=len(claims),
            )
            self.lock_tasks([c.task_id for c in claims])
        return claims

    def _claimable(self, now_ms: int, limit: int, task_id: str | None) -> list[Any]:
        """``(task_id, step, attempt, idempotency_key)`` of due queued runs, oldest first."""
        if task_id is None:
            return list(self._run(self.sql.claim, {"now": now_ms, "limit": limit}).fetchall())
        params = {"now": now_ms, "limit": limit, "task": task_id}
        return list(self._run(self.sql.claim_task, params).fetchall())

    def running_count(self, pipeline: str, step: str | None, now_ms: int) -> int:
        """Live runs of one step (or of any step) of one pipeline, across every task and worker."""
        dialect = self.store.dialect
        if dialect.limit_lock_sql is not None and dialect.limit_key is not None:
            self.cursor.execute(dialect.limit_lock_sql, {"key": dialect.limit_key(pipeline, step)})
        runs, tasks = t.step_runs, t.tasks
        query = (
            sa.select(sa.func.count())
            .select_from(runs.join(tasks, tasks.c.id == runs.c.task_id))
            .where(
                runs.c.status == t.RUNNING,
                runs.c.lease_expires_ms > now_ms,
                tasks.c.pipeline == pipeline,
            )
        )
        if step is not None:
            query = query.where(runs.c.step == step)
        return int(self.conn.execute(query).scalar_one())

    def unclaim(self, claim: RunClaim, not_before_ms: int) -> None:
        """Give a claimed run back to the queue (a concurrency limit was reached)."""
        self.unclaimed.add((claim.task_id, claim.step, claim.attempt))
        runs = t.step_runs
        self._write_core(
            sa.update(runs)
            .where(
                runs.c.task_id == claim.task_id,
                runs.c.step == claim.step,
                runs.c.attempt == claim.attempt,
                runs.c.lease_token == claim.token,
            )
            .values(
                status="queued",
                lease_owner=None,
                lease_token=None,
                lease_expires_ms=None,
                started_ms=None,
                not_before_ms=not_before_ms,
            )
        )

    def expired(self, now_ms: int, limit: int) -> list[ExpiredRun]:
        """Runs whose lease ran out."""
        rows = self._run(self.sql.expired, {"now": now_ms, "limit": limit}).fetchall()
        return [ExpiredRun(task_id=r[0], step=r[1], attempt=r[2]) for r in rows]

    def finish_run(self, claim: RunClaim, status: str, now_ms: int, error: str | None) -> bool:
        """Fenced close: only the holder of the current token may finish the run."""
        changed = self._write(
            self.sql.finish_run,
            {
                "b_task": claim.task_id,
                "b_step": claim.step,
                "b_attempt": claim.attempt,
                "b_token": claim.token,
                "status": status,
                "now": now_ms,
                "error": error,
            },
            expect=self._holds(claim),
        )
        return changed == 1

    def _holds(self, claim: RunClaim) -> int | None:
        """How many runs :meth:`finish_run` will close, where known before it runs."""
        return None

    def close_runs(self, task_id: str, step: str, status: str, now_ms: int) -> None:
        """Close open runs of a step whoever holds them."""
        self._write(
            self.sql.close_runs,
            {"b_task": task_id, "b_step": step, "status": status, "now": now_ms},
        )

    def rename_step(self, task_id: str, old: str, new: str) -> None:
        """Move a step's runs and artifacts to its new id (a migration's step_map)."""
        for table in (t.step_runs, t.artifacts):
            self._write_core(
                sa.update(table)
                .where(table.c.task_id == task_id, table.c.step == old)
                .values(step=new)
            )

    def retire_artifacts(self, task_id: str, step: str) -> None:
        """Mark the step's artifacts as history (a rerun's new generation replaces them)."""
        self._write(self.sql.uncurrent, {"b_task": task_id, "b_step": step})

    def put_artifact(self, task_id: str, artifact: NewArtifact, created_at: str) -> None:
        """Make this the step's one current artifact."""
        if artifact.attempt > 1 or artifact.generation > 1:  # only then can an older one exist
            self._write(self.sql.uncurrent, {"b_task": task_id, "b_step": artifact.step})
        self._write(
            self.sql.insert_artifact,
            {
                "task_id": task_id,
                "step": artifact.step,
                "attempt": artifact.attempt,
                "generation": artifact.generation,
                "current": True,
                "kind": artifact.kind,
                "value": artifact.value_text,
                "sha256": artifact.sha256,
                "size": artifact.size,
                "content_type": artifact.content_type,
                "meta": artifact.meta_text,
                "created_at": created_at,
            },
        )

    def outputs(self, task_id: str, steps: Sequence[str]) -> dict[str, JSONValue]:
        """Current values of the named steps' artifacts."""
        return self.outputs_of({task_id: steps}).get(task_id, {})

    def outputs_of(self, wanted: Mapping[str, Sequence[str]]) -> dict[str, dict[str, JSONValue]]:
        """Current values of the named steps' artifacts of several tasks, in one query."""
        wanted = {task_id: steps for task_id, steps in wanted.items() if steps}
        out: dict[str, dict[str, JSONValue]] = {}
        all_steps = sorted({step for steps in wanted.values() for step in steps})
        for ids in iter_chunks(sorted(wanted), 128):
            params = _padded("t", ids) | _padded("s", all_steps)
            statement = self.sql.outputs(_pad(len(ids)), _pad(len(all_steps)))
            for task_id, step, kind, value, sha256 in self._run(statement, params):
                if step in wanted[task_id]:
                    text = value if kind == "json" else self.store.blobs.get(sha256).decode()
                    out.setdefault(task_id, {})[step] = loads(text)
        return out

    def idempotent_response(self, scope: str, key: str) -> tuple[str, str] | None:
        """The remembered (request hash, response) for a key.

        On PostgreSQL a transaction still running with the same key is waited for first, so
        the second of two racing requests sees the first one's response.
        """
        lock = self.store.dialect.idempotency_lock_sql
        if lock is not None:
            self.cursor.execute(lock, {"key": f"{scope}\n{key}"})
        row = self.conn.execute(
            sa.select(t.idempotency.c.request_hash, t.idempotency.c.response).where(
                t.idempotency.c.scope == scope, t.idempotency.c.key == key
            )
        ).first()
        return (row.request_hash, row.response) if row else None

    def forget_responses(self, before: str) -> None:
        """Drop remembered responses created before ``before`` (ISO time)."""
        self._write_core(sa.delete(t.idempotency).where(t.idempotency.c.created_at < before))

    def remember_response(
        self, scope: str, key: str, request_hash: str, response: str, created_at: str
    ) -> None:
        """Keep the response for replays of the same key."""
        self._write_core(
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
        "status": state.status._value_,
        "revision": state.revision,
        "state": dumps(raw),
        "created_at": raw["created_at"],
        "updated_at": raw["updated_at"],
    }


def _pad(count: int) -> int:
    """The power of two an IN list of ``count`` values is padded to: a few statement shapes,
    not one per length."""  # noqa: D205,D209
    return 1 << (count - 1).bit_length()


def _padded(prefix: str, values: Sequence[str]) -> dict[str, str]:
    """``{prefix0: values[0], …}``, padded to :func:`_pad` with the last value."""
    padded = [*values, *[values[-1]] * (_pad(len(values)) - len(values))]
    return {f"{prefix}{k}": value for k, value in enumerate(padded)}


def _not_found(task_id: str) -> TaskNotFound:
    return TaskNotFound(f"No task has id '{cut(task_id)}'.", task_id=task_id)
