"""The state of one task, its events, and how an event changes the state.

State is a fold over events: :func:`apply` is the only function that changes a
:class:`TaskState`, so replaying a task's stored events through it gives the
stored state exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from datetime import datetime
from enum import StrEnum
from typing import Any

from segue.core.states import TERMINAL_TASK, StepStatus, TaskStatus
from segue.types import JSONObject, JSONValue, isoformat, parse_iso, record


class EventType(StrEnum):
    """Every kind of fact recorded in a task's event log."""

    TASK_CREATED = "task_created"
    STEP_QUEUED = "step_queued"
    STEP_STARTED = "step_started"
    STEP_COMPLETED = "step_completed"
    STEP_FAILED = "step_failed"
    STEP_SKIPPED = "step_skipped"
    STEP_WAITING = "step_waiting"
    STEP_TIMED_OUT = "step_timed_out"
    INPUT_SUBMITTED = "input_submitted"
    STEP_RESET = "step_reset"
    STEP_RERUN = "step_rerun"
    STEP_CANCELLED = "step_cancelled"
    LEASE_EXPIRED = "lease_expired"
    REPORT_REJECTED = "report_rejected"
    TASK_COMPLETED = "task_completed"
    TASK_FAILED = "task_failed"
    TASK_RETRIED = "task_retried"
    TASK_REOPENED = "task_reopened"
    TASK_CANCELLED = "task_cancelled"
    TASK_MIGRATED = "task_migrated"


@record(kw_only=True)
class Event:
    """One immutable fact about a task, numbered ``seq`` 1, 2, 3, … per task."""

    seq: int
    type: EventType
    at: datetime
    step: str | None = None
    attempt: int | None = None
    actor: str | None = None
    data: JSONObject = field(default_factory=dict)

    def to_json(self) -> JSONObject:
        """Plain JSON form (what the store keeps and the API shows)."""
        return {
            "seq": self.seq,
            "type": self.type.value,
            "at": isoformat(self.at),
            "step": self.step,
            "attempt": self.attempt,
            "actor": self.actor,
            "data": self.data,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Event:
        """Inverse of :meth:`to_json`."""
        at = parse_iso(raw["at"])
        assert at is not None
        return cls(
            seq=raw["seq"],
            type=EventType(raw["type"]),
            at=at,
            step=raw.get("step"),
            attempt=raw.get("attempt"),
            actor=raw.get("actor"),
            data=dict(raw.get("data") or {}),
        )


@record(kw_only=True)
class StepState:
    """Where one step of a task stands."""

    status: StepStatus = StepStatus.PENDING
    attempt: int = 0
    """The latest attempt queued or started (0: never)."""
    generation: int = 1
    """Grows when an operator reruns the step; part of the idempotency key."""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    not_before: datetime | None = None
    """Earliest start of the queued attempt (retry backoff)."""
    error: JSONObject | None = None
    """The last failure: ``{type, message}``."""
    prefill: JSONValue = None
    """The default offered to the person while the step waits."""
    reason: str | None = None
    """Why the step was skipped or cancelled."""
    _json: JSONObject | None = field(default=None, init=False, repr=False, compare=False)
    """:meth:`to_json`, made once: a task's state row is written on every change, and most
    of its steps are the same objects as in the state before."""

    def to_json(self) -> JSONObject:
        """Plain JSON form (one dict per state, made on the first call: do not change it)."""
        if self._json is not None:
            return self._json
        raw: JSONObject = {
            "status": self.status._value_,  # not .value: a plain attribute, no descriptor call
            "attempt": self.attempt,
            "generation": self.generation,
            "started_at": isoformat(self.started_at),
            "finished_at": isoformat(self.finished_at),
            "not_before": isoformat(self.not_before),
            "error": self.error,
            "prefill": self.prefill,
            "reason": self.reason,
        }
        object.__setattr__(self, "_json", raw)  # a cache, not a change: it is frozen to mypy
        return raw

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> StepState:
        """Inverse of :meth:`to_json`."""
        return cls(
            status=StepStatus(raw["status"]),
            attempt=raw["attempt"],
            generation=raw["generation"],
            started_at=parse_iso(raw["started_at"]),
            finished_at=parse_iso(raw["finished_at"]),
            not_before=parse_iso(raw["not_before"]),
            error=raw["error"],
            prefill=raw["prefill"],
            reason=raw["reason"],
        )


@record(kw_only=True)
class TaskState:
    """The current state of one task: what :func:`apply` folds events into."""

    id: str
    pipeline: str
    version: int
    status: TaskStatus
    config: JSONObject
    steps: Mapping[str, StepState]
    """Step states in definition order."""
    revision: int
    """The seq of the last event applied; grows with every change."""
    created_at: datetime
    updated_at: datetime
    error: str | None = None
    """Why the task failed or was cancelled."""

    def step(self, step_id: str) -> StepState:
        """Return a step's state (KeyError if the pipeline has no such step)."""
        return self.steps[step_id]

    def to_json(self) -> JSONObject:
        """Plain JSON form (the store's state row)."""
        return {
            "id": self.id,
            "pipeline": self.pipeline,
            "version": self.version,
            "status": self.status._value_,
            "config": self.config,
            "steps": {k: v.to_json() for k, v in self.steps.items()},
            "revision": self.revision,
            "created_at": isoformat(self.created_at),
            "updated_at": isoformat(self.updated_at),
            "error": self.error,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> TaskState:
        """Inverse of :meth:`to_json`."""
        created, updated = parse_iso(raw["created_at"]), parse_iso(raw["updated_at"])
        assert created is not None and updated is not None
        return cls(
            id=raw["id"],
            pipeline=raw["pipeline"],
            version=raw["version"],
            status=TaskStatus(raw["status"]),
            config=raw["config"],
            steps={k: StepState.from_json(v) for k, v in raw["steps"].items()},
            revision=raw["revision"],
            created_at=created,
            updated_at=updated,
            error=raw.get("error"),
        )


def initial_state(event: Event) -> TaskState:
    """The state a ``task_created`` event describes."""
    data = event.data
    steps = data["steps"]
    assert isinstance(steps, list)
    config = data["config"]
    assert isinstance(config, dict)
    return TaskState(
        id=str(data["task_id"]),
        pipeline=str(data["pipeline"]),
        version=int(str(data["version"])),
        status=TaskStatus.PENDING,
        config=config,
        steps={str(s): StepState() for s in steps},
        revision=event.seq,
        created_at=event.at,
        updated_at=event.at,
    )


def apply(state: TaskState | None, event: Event) -> TaskState:
    """Return the state after ``event``; the only way a task's state changes."""
    if event.type is EventType.TASK_CREATED:
        return initial_state(event)
    assert state is not None, "the first event of a task must be task_created"
    assert event.seq == state.revision + 1, "events must be applied in order"
    steps = dict(state.steps)
    status, error, version, config = state.status, state.error, state.version, state.config
    t = event.type
    if t is EventType.TASK_MIGRATED:
        mapping = event.data["steps"]
        assert isinstance(mapping, dict)
        steps = {
            new: state.steps[old] if isinstance(old, str) else StepState()
            for new, old in mapping.items()
        }
        version = int(str(event.data["to_version"]))
        moved = event.data.get("config")
        config = moved if isinstance(moved, dict) else config
    if event.step is not None:
        steps[event.step] = _apply_step(steps[event.step], event)
    if t is EventType.TASK_COMPLETED:
        status, error = TaskStatus.COMPLETED, None
    elif t is EventType.TASK_FAILED:
        status, error = TaskStatus.FAILED, str(event.data.get("reason") or "")
    elif t is EventType.TASK_CANCELLED:
        status, error = TaskStatus.CANCELLED, str(event.data.get("reason") or "cancelled")
    elif t in (EventType.TASK_RETRIED, EventType.TASK_REOPENED):
        status, error = TaskStatus.RUNNING, None
    if status not in TERMINAL_TASK:
        status = derived_status(steps)
    return TaskState(
        id=state.id,
        pipeline=state.pipeline,
        version=version,
        status=status,
        config=config,
        steps=steps,
        revision=event.seq,
        created_at=state.created_at,
        updated_at=event.at,
        error=error,
    )


def _evolve(step: StepState, **changes: Any) -> StepState:
    """``dataclasses.replace`` for the one hot type, without its generic field walk."""
    get = changes.get
    return StepState(
        status=get("status", step.status),
        attempt=get("attempt", step.attempt),
        generation=get("generation", step.generation),
        started_at=get("started_at", step.started_at),
        finished_at=get("finished_at", step.finished_at),
        not_before=get("not_before", step.not_before),
        error=get("error", step.error),
        prefill=get("prefill", step.prefill),
        reason=get("reason", step.reason),
    )


def _apply_step(step: StepState, event: Event) -> StepState:
    t, at, data = event.type, event.at, event.data
    if t is EventType.STEP_QUEUED:
        not_before = data.get("not_before")
        return _evolve(
            step,
            status=StepStatus.READY,
            attempt=event.attempt or step.attempt + 1,
            not_before=parse_iso(not_before) if isinstance(not_before, str) else None,
            started_at=None,
            finished_at=None,
        )
    if t is EventType.STEP_STARTED:
        return _evolve(step, status=StepStatus.RUNNING, started_at=at, not_before=None)
    if t in (EventType.STEP_COMPLETED, EventType.INPUT_SUBMITTED):
        return _evolve(
            step,
            status=StepStatus.COMPLETED,
            attempt=event.attempt or step.attempt,
            finished_at=at,
            error=None,
            prefill=None,
        )
    if t is EventType.STEP_FAILED:
        error = data.get("error")
        return _evolve(
            step,
            status=StepStatus.FAILED,
            finished_at=at,
            error=error if isinstance(error, dict) else None,
        )
    if t is EventType.LEASE_EXPIRED:
        return _evolve(
            step,
            status=StepStatus.FAILED,
            finished_at=at,
            error={"type": "LeaseExpired", "message": "the worker's lease expired"},
        )
    if t is EventType.STEP_SKIPPED:
        return _evolve(
            step, status=StepStatus.SKIPPED, finished_at=at, reason=str(data.get("reason") or "")
        )
    if t is EventType.STEP_WAITING:
        return _evolve(
            step,
            status=StepStatus.WAITING_USER,
            started_at=at,
            attempt=event.attempt or step.attempt,
            prefill=data.get("prefill"),
        )
    if t is EventType.STEP_RESET:
        return _evolve(step, status=StepStatus.PENDING, finished_at=None, started_at=None)
    if t is EventType.STEP_RERUN:
        return StepState(attempt=step.attempt, generation=step.generation + 1)
    if t is EventType.STEP_CANCELLED:
        return _evolve(
            step,
            status=StepStatus.CANCELLED,
            finished_at=at,
            reason=str(data.get("reason") or "cancelled"),
        )
    return step


def derived_status(steps: Mapping[str, StepState]) -> TaskStatus:
    """The non-terminal status that follows from the steps' statuses."""
    ready = waiting = False
    fresh = True  # PENDING only until the first attempt of anything has begun
    for step in steps.values():
        status = step.status
        if status is StepStatus.RUNNING:
            return TaskStatus.RUNNING
        if status is StepStatus.READY:
            ready = True
            fresh = fresh and step.attempt <= 1
        elif status is not StepStatus.PENDING:
            fresh = False
            waiting = waiting or status is StepStatus.WAITING_USER
    if ready:
        return TaskStatus.PENDING if fresh else TaskStatus.RUNNING
    return TaskStatus.WAITING_USER if waiting else TaskStatus.RUNNING


def replay(events: list[Event]) -> TaskState:
    """Fold a whole event log into the state it describes."""
    state: TaskState | None = None
    for event in events:
        state = apply(state, event)
    assert state is not None, "an event log starts with task_created"
    return state
