"""The hot-path statements: written once in SQLAlchemy Core, compiled once per dialect.

Every transition runs a handful of these. Executing a Core statement costs
about 14 µs of Python in SQLAlchemy even when its compiled form is cached; the
same SQL on the DBAPI cursor of the same connection (same transaction) costs
about 1 µs. So the statements are still Core — one definition for every
backend — but each is compiled once, at start, into the dialect's SQL text and
parameter order, and run on the cursor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect as SaDialect
from sqlalchemy.sql import ClauseElement

from segue.store import schema as t

b = sa.bindparam


class Prepared:
    """One statement compiled for one dialect: its SQL text and how to order parameters."""

    __slots__ = ("_get", "_keys", "_positional", "defaults", "order", "sql")

    def __init__(
        self, statement: ClauseElement, dialect: SaDialect, keys: Sequence[str] | None = None
    ) -> None:
        compiled: Any = statement.compile(dialect=dialect, column_keys=list(keys) if keys else None)
        self.sql = str(compiled)
        self.order: tuple[str, ...] | None = (
            tuple(compiled.positiontup) if compiled.positiontup is not None else None
        )
        self.defaults = {
            name: param.value
            for param, name in compiled.bind_names.items()
            if not param.required and param.value is not None
        }
        order = self.order or ()
        self._get = itemgetter(*order) if len(order) > 1 else None
        self._keys = tuple(keys or ())
        self._positional = self.order is not None and self.order == self._keys

    def row(self, values: tuple[Any, ...]) -> Any:
        """Parameters given as a tuple in the order of the ``keys`` the statement was
        prepared with: passed as they are where the driver takes them so (no dict)."""  # noqa: D205,D209
        if self._positional:
            return values
        return self.args(dict(zip(self._keys, values, strict=True)))

    def args(self, params: Mapping[str, Any]) -> Any:
        """Parameters in the form the driver takes (a tuple for qmark, else a dict)."""
        merged = {**self.defaults, **params} if self.defaults else params
        if self.order is None:
            return merged
        if self._get is not None:
            return self._get(merged)
        return tuple(merged[name] for name in self.order)


class Statements:
    """Every hot-path statement of the store, prepared for one dialect."""

    def __init__(self, dialect: SaDialect, *, lock_rows: bool, skip_locked: bool) -> None:
        self._dialect = dialect
        tasks, runs, arts = t.tasks.c, t.step_runs.c, t.artifacts.c
        p = self._prepare
        get = sa.select(tasks.state, tasks.revision).where(tasks.id == b("id"))
        self.get_task = p(get)
        self.lock_task = p(get.with_for_update() if lock_rows else get)
        self.task_status = p(sa.select(tasks.status).where(tasks.id == b("id")))
        versions = t.pipelines.c
        self.latest_version = p(
            sa.select(sa.func.max(versions.version)).where(versions.name == b("name"))
        )
        self.insert_task = p(sa.insert(t.tasks), TASK_COLUMNS)
        self.update_task = p(
            sa.update(t.tasks)
            .where(tasks.id == b("b_id"), tasks.revision == b("b_revision"))
            .values(
                version=b("version"),
                status=b("status"),
                revision=b("revision"),
                state=b("state"),
                updated_at=b("updated_at"),
            )
        )
        self.insert_event = p(sa.insert(t.events), EVENT_COLUMNS)
        self.insert_run = p(sa.insert(t.step_runs), RUN_COLUMNS)
        claim = (
            sa.select(runs.task_id, runs.step, runs.attempt, runs.idempotency_key)
            .where(runs.status == t.QUEUED, runs.not_before_ms <= b("now"))
            .order_by(runs.not_before_ms)
            .limit(b("limit"))
        )
        self.claim = p(claim.with_for_update(skip_locked=True) if skip_locked else claim)
        of_task = claim.where(runs.task_id == b("task"))
        self.claim_task = p(of_task.with_for_update(skip_locked=True) if skip_locked else of_task)
        self.take_run = p(
            sa.update(t.step_runs)
            .where(
                runs.task_id == b("b_task"),
                runs.step == b("b_step"),
                runs.attempt == b("b_attempt"),
                runs.status == t.QUEUED,
            )
            .values(
                status="running",
                lease_owner=b("owner"),
                lease_token=b("token"),
                lease_expires_ms=b("expires"),
                started_ms=b("now"),
            )
        )
        expired = (
            sa.select(runs.task_id, runs.step, runs.attempt)
            .where(runs.status == t.RUNNING, runs.lease_expires_ms < b("now"))
            .order_by(runs.lease_expires_ms)
            .limit(b("limit"))
        )
        self.expired = p(expired.with_for_update(skip_locked=True) if skip_locked else expired)
        held = (  # the run of this attempt, running under this lease token
            runs.task_id == b("b_task"),
            runs.step == b("b_step"),
            runs.attempt == b("b_attempt"),
            runs.lease_token == b("b_token"),
            runs.status == t.RUNNING,
        )
        self.finish_run = p(
            sa.update(t.step_runs)
            .where(*held)
            .values(status=b("status"), finished_ms=b("now"), error=b("error"))
        )
        self.run_held = p(sa.select(sa.func.count()).select_from(t.step_runs).where(*held))
        self.close_runs = p(
            sa.update(t.step_runs)
            .where(
                runs.task_id == b("b_task"),
                runs.step == b("b_step"),
                sa.or_(runs.status == t.QUEUED, runs.status == t.RUNNING),
            )
            .values(status=b("status"), finished_ms=b("now"))
        )
        self.uncurrent = p(
            sa.update(t.artifacts)
            .where(arts.task_id == b("b_task"), arts.step == b("b_step"), arts.current.is_(True))
            .values(current=False)
        )
        self.insert_artifact = p(sa.insert(t.artifacts), ARTIFACT_COLUMNS)
        self._revisions: dict[int, Prepared] = {}
        self._outputs: dict[tuple[int, int], Prepared] = {}
        self._lock_tasks: dict[int, Prepared] = {}
        self._lock_rows = lock_rows
        for prepared in vars(self).values():
            if isinstance(prepared, Prepared) and "POSTCOMPILE" in prepared.sql:
                raise AssertionError(f"an expanding parameter cannot be prepared: {prepared.sql}")

    def outputs(self, tasks: int, steps: int) -> Prepared:
        """Current artifacts of named steps of named tasks (parameters t0, t1, … and s0, s1, …):
        every pair of the two lists, the caller keeps the pairs it asked for."""  # noqa: D205,D209
        if (tasks, steps) not in self._outputs:
            arts = t.artifacts.c
            self._outputs[tasks, steps] = self._prepare(
                sa.select(arts.task_id, arts.step, arts.kind, arts.value, arts.sha256).where(
                    arts.task_id.in_([b(f"t{i}") for i in range(tasks)]),
                    arts.current.is_(True),
                    arts.step.in_([b(f"s{i}") for i in range(steps)]),
                )
            )
        return self._outputs[tasks, steps]

    def lock_tasks(self, count: int) -> Prepared:
        """State rows of ``count`` tasks (parameters i0, i1, …), locked in id order."""
        if count not in self._lock_tasks:
            tasks = t.tasks.c
            query = (
                sa.select(tasks.id, tasks.state, tasks.revision)
                .where(tasks.id.in_([b(f"i{i}") for i in range(count)]))
                .order_by(tasks.id)
            )
            self._lock_tasks[count] = self._prepare(
                query.with_for_update() if self._lock_rows else query
            )
        return self._lock_tasks[count]

    def revisions(self, count: int) -> Prepared:
        """``(id, revision)`` of ``count`` tasks (parameters i0, i1, …)."""
        if count not in self._revisions:
            tasks = t.tasks.c
            self._revisions[count] = self._prepare(
                sa.select(tasks.id, tasks.revision).where(
                    tasks.id.in_([b(f"i{i}") for i in range(count)])
                )
            )
        return self._revisions[count]

    def _prepare(self, statement: ClauseElement, keys: Sequence[str] | None = None) -> Prepared:
        return Prepared(statement, self._dialect, keys)


TASK_COLUMNS = (
    "id",
    "pipeline",
    "version",
    "status",
    "revision",
    "state",
    "created_at",
    "updated_at",
)
EVENT_COLUMNS = ("task_id", "seq", "type", "step", "attempt", "actor", "at", "data")
RUN_COLUMNS = ("task_id", "step", "attempt", "status", "idempotency_key", "not_before_ms")
ARTIFACT_COLUMNS = (
    "task_id",
    "step",
    "attempt",
    "generation",
    "current",
    "kind",
    "value",
    "sha256",
    "size",
    "content_type",
    "meta",
    "created_at",
)
