"""Speculative transactions: a writer's work done outside SQLite's write lock, then replayed.

SQLite has one writer at a time. Between processes on one database file (an API
process and a worker process), a writer holds the lock for all of its work:
reading states, running the pure core, building rows, not just its SQL. So two
busy processes take turns instead of each using its own core.

While another process is waiting for the lock, a use case can instead run
first against a snapshot, on a read connection: a :class:`SpeculativeTx` does
its reads and records its writes, already in the driver's form, without
executing them. Then, under the lock, :meth:`segue.store.tx.SqlTx.replay` checks
that what it read still holds and executes the recorded writes:

- each task it read is still at the revision it read;
- each other read it made (a pipeline's latest version, a remembered
  idempotent response) gives the same answer;
- each write that a decision depended on changes the rows predicted: taking a
  queued run changes one row (the run is still queued), closing a run under a
  lease token changes one row exactly when the snapshot showed the token held.

Everything else a use case reads belongs to a task it read: a task's state,
artifacts and queued runs only change together with its revision. If any check
fails, the replay is rolled back and the use case runs again under the lock,
exactly as it would have without speculation; its result is the one returned.
A use case that needs a read no replay can check (a concurrency limit counts
other tasks' runs) raises :class:`Unsupported` here and runs under the lock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from segue.core.task import TaskState
from segue.store.base import ExpiredRun, NewArtifact, RunClaim
from segue.store.statements import Prepared
from segue.store.tx import SqlTx, _task_row, loads
from segue.types import JSONValue

if TYPE_CHECKING:
    from segue.store.sql import SqlStore


class Unsupported(Exception):
    """The work reads something a replay cannot check: run it under the lock instead."""


class SpeculativeTx(SqlTx):
    """A transaction run on a snapshot: reads are real, writes are recorded for a replay."""

    def __init__(self, conn: Connection, store: SqlStore) -> None:
        super().__init__(conn, store)
        self.read: dict[str, int] = {}
        """The revision of each task read (before this transaction changed it)."""
        self.checks: list[tuple[str, tuple[Any, ...], Any]] = []
        """Other reads, as ``(method, arguments, answer)``: the replay asks again."""
        self.ops: list[tuple[str, Any, Any, int | None]] = []
        """Writes in order, as ``(kind, statement, parameters, expected row count)``."""
        self._queued: dict[tuple[str, str, int], tuple[str, int]] = {}
        """Runs queued here, not in the snapshot: ``(idempotency key, not before)``."""
        self._taken: set[str] = set()
        """Lease tokens of the runs taken here."""
        self._artifacts: dict[tuple[str, str], NewArtifact | None] = {}
        """Current artifacts made here (None: retired here), by task and step."""

    # -- reads --------------------------------------------------------------------------

    def lock_task(self, task_id: str) -> TaskState:
        """Read a task's state in the snapshot and remember its revision."""
        own = task_id in self._states
        state = super().lock_task(task_id)
        if not own:
            self.read.setdefault(task_id, state.revision)
        return state

    def latest_version(self, name: str) -> int | None:
        """Read it, to be asked again under the lock."""
        answer = super().latest_version(name)
        self.checks.append(("latest_version", (name,), answer))
        return answer

    def idempotent_response(self, scope: str, key: str) -> tuple[str, str] | None:
        """Read it, to be asked again under the lock."""
        answer = super().idempotent_response(scope, key)
        self.checks.append(("idempotent_response", (scope, key), answer))
        return answer

    def running_count(self, pipeline: str, step: str | None, now_ms: int) -> int:
        """Counts other tasks' runs, which no revision covers."""
        raise Unsupported("a concurrency limit is checked under the lock")

    def expired(self, now_ms: int, limit: int) -> list[ExpiredRun]:
        """Lease expiry is not speculated."""
        raise Unsupported("expired leases are found under the lock")

    def _claimable(self, now_ms: int, limit: int, task_id: str | None) -> list[Any]:
        """The snapshot's due runs, then those queued by this transaction itself."""
        rows = super()._claimable(now_ms, limit, task_id)
        rows.extend(
            (task, step, attempt, key)
            for (task, step, attempt), (key, not_before) in self._queued.items()
            if not_before <= now_ms and task_id in (None, task)
        )
        return rows[:limit]

    def claim(
        self, owner: str, now_ms: int, lease_ms: int, limit: int, task_id: str | None = None
    ) -> list[RunClaim]:
        """Take due runs (the replay checks that each is still queued)."""
        claims = super().claim(owner, now_ms, lease_ms, limit, task_id)
        for c in claims:
            self._queued.pop((c.task_id, c.step, c.attempt), None)
            self._taken.add(c.token)
        return claims

    def _holds(self, claim: RunClaim) -> int | None:
        if claim.token in self._taken:
            return 1
        params = {
            "b_task": claim.task_id,
            "b_step": claim.step,
            "b_attempt": claim.attempt,
            "b_token": claim.token,
        }
        return int(self._run(self.sql.run_held, params).fetchone()[0])

    def outputs_of(self, wanted: Mapping[str, Sequence[str]]) -> dict[str, dict[str, JSONValue]]:
        """The snapshot's current artifacts, with those made or retired here on top."""
        unread = [task for task in wanted if task not in self.read and task not in self._states]
        if unread:  # its artifacts would be checked by nothing
            raise Unsupported(f"task {unread[0]} was not read first")
        out = super().outputs_of(wanted)
        for (task, step), artifact in self._artifacts.items():
            if step not in wanted.get(task, ()):
                continue
            if artifact is None:
                out.get(task, {}).pop(step, None)
                continue
            if artifact.kind == "json" and artifact.value_text is not None:
                text = artifact.value_text
            else:
                text = self.store.blobs.get(artifact.sha256).decode()
            out.setdefault(task, {})[step] = loads(text)
        return out

    # -- writes (recorded) ----------------------------------------------------------------

    def _write(
        self, prepared: Prepared, params: Mapping[str, Any], expect: int | None = None
    ) -> int:
        self.ops.append(("one", prepared.sql, prepared.args(params), expect))
        return 1 if expect is None else expect

    def _write_many(self, prepared: Prepared, rows: list[Any], expect: int | None = None) -> None:
        self.ops.append(("many", prepared.sql, rows, expect))

    def _write_core(self, statement: sa.Executable) -> None:
        self.ops.append(("core", statement, None, None))

    def queue_run(
        self, task_id: str, step: str, attempt: int, idempotency_key: str, not_before_ms: int
    ) -> None:
        """Record the insert; the run is claimable by this transaction."""
        super().queue_run(task_id, step, attempt, idempotency_key, not_before_ms)
        self._queued[task_id, step, attempt] = (idempotency_key, not_before_ms)

    def put_artifact(self, task_id: str, artifact: NewArtifact, created_at: str) -> None:
        """Record the insert; later reads here see it."""
        super().put_artifact(task_id, artifact, created_at)
        self._artifacts[task_id, artifact.step] = artifact

    def retire_artifacts(self, task_id: str, step: str) -> None:
        """Record the update; later reads here no longer see the step's artifact."""
        super().retire_artifacts(task_id, step)
        self._artifacts[task_id, step] = None

    def unclaim(self, claim: RunClaim, not_before_ms: int) -> None:
        """Only after a concurrency limit, which is not speculated."""
        raise Unsupported("a concurrency limit is checked under the lock")

    def rename_step(self, task_id: str, old: str, new: str) -> None:
        """Migrations are not speculated."""
        raise Unsupported("a migration runs under the lock")

    @property
    def writes_nothing(self) -> bool:
        """Whether the work wrote nothing (a claim that found no due run, say)."""
        return not (self.ops or self._unsaved or self._event_rows)

    def finish(self) -> None:
        """Build the state rows now, outside the lock (the replay writes them as they are)."""
        self._rows = {task_id: _task_row(self._states[task_id]) for task_id in self._unsaved}
