"""The pure state machine: (spec, state, command, now, outputs) -> (state, events).

No I/O and no clock: the shell passes ``now``, ids and random samples in, and
the current outputs of the steps that expressions read. Rejected commands raise
a :class:`~segue.errors.UserError` and change nothing; accepted ones return a
:class:`Transition` whose events, applied in order by :func:`~segue.core.task.apply`,
give its state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from segue.core.commands import (
    Cancel,
    ClaimStep,
    Command,
    CompleteStep,
    ExpireLease,
    FailStep,
    RejectReport,
    Rerun,
    Retry,
    Skip,
    SubmitInput,
    TimeOut,
)
from segue.core.retry import attempts_left, retry_delay_s
from segue.core.schemas import check_input, violations
from segue.core.states import DONE, TERMINAL_TASK, StepStatus, TaskStatus
from segue.core.task import Event, EventType, TaskState, apply
from segue.errors import InvalidCommand, LeaseLost, StepNotFound, StepNotWaiting, TaskFinished
from segue.spec.expr import ExpressionError, compile_expression
from segue.spec.model import PipelineSpec, StepKind, StepSpec
from segue.types import JSONObject, JSONValue, cut, isoformat, record

Outputs = Mapping[str, JSONValue]
"""Current outputs by step id (artifacts of auto steps, inputs of wait steps)."""


@record
class Transition:
    """The outcome of one accepted command."""

    state: TaskState
    events: tuple[Event, ...]


@dataclass(slots=True)
class _Builder:
    """Emits events one by one, applying each so later decisions see it."""

    state: TaskState | None
    now: datetime
    actor: str | None = None
    events: list[Event] = field(default_factory=list)

    def emit(
        self,
        type_: EventType,
        step: str | None = None,
        attempt: int | None = None,
        **data: JSONValue,
    ) -> None:
        seq = 1 if self.state is None else self.state.revision + 1
        event = Event(
            seq=seq,
            type=type_,
            at=self.now,
            step=step,
            attempt=attempt,
            actor=self.actor,
            data=data,
        )
        self.state = apply(self.state, event)
        self.events.append(event)

    @property
    def current(self) -> TaskState:
        assert self.state is not None
        return self.state

    def done(self) -> Transition:
        return Transition(self.current, tuple(self.events))


def start(
    spec: PipelineSpec,
    task_id: str,
    config: JSONObject,
    now: datetime,
    *,
    actor: str | None = None,
    outputs: Outputs | None = None,
) -> Transition:
    """Create a task of ``spec`` and open its first steps.

    ``config`` must already be validated with defaults applied.
    """
    b = _Builder(None, now, actor)
    b.emit(
        EventType.TASK_CREATED,
        task_id=task_id,
        pipeline=spec.name,
        version=spec.version,
        config=config,
        steps=list(spec.step_ids),
    )
    _settle(spec, b, outputs or {})
    return b.done()


def settle(
    spec: PipelineSpec,
    state: TaskState,
    now: datetime,
    *,
    outputs: Outputs | None = None,
    actor: str | None = None,
) -> Transition:
    """Open every step of ``state`` whose dependencies are done (after a migration)."""
    b = _Builder(state, now, actor)
    _settle(spec, b, outputs or {})
    return b.done()


def fork(
    spec: PipelineSpec,
    past: TaskState,
    task_id: str,
    now: datetime,
    *,
    carried: Mapping[str, JSONObject],
    actor: str | None = None,
    outputs: Outputs | None = None,
) -> Transition:
    """A new task that starts from ``past`` (a task's state at some event).

    The steps that had completed then are completed in the new task with the
    artifacts named in ``carried`` (step -> artifact reference); skipped ones
    stay skipped; everything else starts afresh.
    """
    b = _Builder(None, now, actor)
    b.emit(
        EventType.TASK_CREATED,
        task_id=task_id,
        pipeline=spec.name,
        version=spec.version,
        config=past.config,
        steps=list(spec.step_ids),
        forked_from={"task_id": past.id, "seq": past.revision},
    )
    for step in spec.steps:
        then = past.steps[step.id]
        if then.status is StepStatus.COMPLETED and step.id in carried:
            kind = EventType.STEP_COMPLETED
            if step.kind is StepKind.WAIT_USER:
                kind = EventType.INPUT_SUBMITTED
            b.emit(kind, step.id, 1, artifact=carried[step.id], carried_from=past.id)
        elif then.status is StepStatus.SKIPPED:
            b.emit(EventType.STEP_SKIPPED, step.id, reason=then.reason or "skipped")
    _settle(spec, b, outputs or {})
    return b.done()


def advance(
    spec: PipelineSpec,
    state: TaskState,
    command: Command,
    now: datetime,
    outputs: Outputs | None = None,
) -> Transition:
    """Apply one command to a task.

    Raises:
        TaskFinished, StepNotFound, StepNotWaiting, InputInvalid, InvalidCommand,
        LeaseLost: the command does not apply; nothing changed.
    """
    outputs = dict(outputs or {})
    b = _Builder(state, now, getattr(command, "actor", None))
    if isinstance(command, RejectReport):  # a fact about the log, whatever the state
        data: dict[str, JSONValue] = {"outcome": command.outcome, "reason": command.reason}
        b.emit(EventType.REPORT_REJECTED, command.step, command.attempt, **data)
        return b.done()
    if isinstance(command, Retry):
        _retry(spec, b)
    elif isinstance(command, Cancel):
        _cancel(b, command)
    elif isinstance(command, Rerun):
        _rerun(spec, b, command, outputs)
    elif isinstance(command, Skip):
        _skip(spec, b, command)
    else:
        if state.status.terminal:
            raise _finished(state, command)
        if isinstance(command, SubmitInput):
            _submit(spec, b, command, outputs)
        elif isinstance(command, ClaimStep):
            _expect_step(state, command.step, command.attempt, StepStatus.READY)
            b.emit(EventType.STEP_STARTED, command.step, command.attempt, worker=command.worker)
            # Nothing to settle: a started step satisfies no dependent and ends no task
            # (and every earlier command left no step that could open unopened).
            return b.done()
        elif isinstance(command, CompleteStep):
            _expect_step(state, command.step, command.attempt, StepStatus.RUNNING)
            b.emit(
                EventType.STEP_COMPLETED, command.step, command.attempt, artifact=command.artifact
            )
        elif isinstance(command, FailStep):
            _expect_step(state, command.step, command.attempt, StepStatus.RUNNING)
            _fail(spec, b, command)
        elif isinstance(command, TimeOut):
            _expect_step(state, command.step, command.attempt, StepStatus.WAITING_USER)
            _time_out(spec, b, command, outputs)
        elif isinstance(command, ExpireLease):
            _expect_step(state, command.step, command.attempt, StepStatus.RUNNING)
            b.emit(EventType.LEASE_EXPIRED, command.step, command.attempt)
            b.emit(EventType.STEP_QUEUED, command.step, command.attempt + 1)
    _settle(spec, b, outputs)
    return b.done()


def _finished(state: TaskState, command: Command) -> TaskFinished:
    verb = {"SubmitInput": "accepts no input", "ClaimStep": "runs no more steps"}.get(
        type(command).__name__, "accepts no more changes"
    )
    return TaskFinished(
        f"Task {state.id} is {state.status.value} and {verb}.",
        task_id=state.id,
        status=state.status.value,
    )


def _expect_step(state: TaskState, step_id: str, attempt: int, status: StepStatus) -> None:
    step = state.steps.get(step_id)
    if step is None or step.status is not status or step.attempt != attempt:
        now = f"{step.status.value} at attempt {step.attempt}" if step else "unknown"
        raise LeaseLost(
            f"Step '{step_id}' attempt {attempt} is no longer {status.value} (it is {now}); "
            "the report was discarded.",
            task_id=state.id,
            step=step_id,
            attempt=attempt,
        )


def _submit(
    spec: PipelineSpec, b: _Builder, cmd: SubmitInput, outputs: dict[str, JSONValue]
) -> None:
    state = b.current
    if not spec.has_step(cmd.step):
        raise StepNotFound(
            f"Pipeline {spec.name} v{spec.version} has no step '{cut(cmd.step)}'.",
            task_id=state.id,
            step=cmd.step,
            steps=list(spec.step_ids),
        )
    step = state.steps[cmd.step]
    if step.status is not StepStatus.WAITING_USER:
        waiting = [k for k, v in state.steps.items() if v.status is StepStatus.WAITING_USER]
        now = (
            f"the task waits for {', '.join(repr(w) for w in waiting)}"
            if waiting
            else f"the task is {state.status.value} and waits for no input"
        )
        raise StepNotWaiting(
            f"Step '{cmd.step}' is {step.status.value}, not waiting for input; {now}.",
            task_id=state.id,
            step=cmd.step,
            step_status=step.status.value,
            waiting=waiting,
            revision=state.revision,
        )
    schema = spec.step(cmd.step).input_schema
    assert schema is not None
    check_input(schema, cmd.input, step=cmd.step)
    b.emit(EventType.INPUT_SUBMITTED, cmd.step, step.attempt or 1, artifact=cmd.artifact)
    outputs[cmd.step] = cmd.input


def _fail(spec: PipelineSpec, b: _Builder, cmd: FailStep) -> None:
    policy = spec.retry_for(spec.step(cmd.step))
    error: JSONObject = {"type": cmd.error_type, "message": cmd.message}
    retry = not cmd.permanent and attempts_left(policy, cmd.attempt)
    if not retry:
        b.emit(EventType.STEP_FAILED, cmd.step, cmd.attempt, error=error, will_retry=False)
        return
    delay = retry_delay_s(policy, cmd.attempt, cmd.jitter_sample)
    not_before = b.now + timedelta(seconds=delay)
    b.emit(
        EventType.STEP_FAILED,
        cmd.step,
        cmd.attempt,
        error=error,
        will_retry=True,
        retry_in_s=round(delay, 3),
    )
    b.emit(EventType.STEP_QUEUED, cmd.step, cmd.attempt + 1, not_before=isoformat(not_before))


def _time_out(spec: PipelineSpec, b: _Builder, cmd: TimeOut, outputs: dict[str, JSONValue]) -> None:
    step = spec.step(cmd.step)
    waited = f"no input within {step.timeout_s:g}s"
    b.emit(EventType.STEP_TIMED_OUT, cmd.step, cmd.attempt, on_timeout=step.on_timeout)
    if step.on_timeout == "skip":
        b.emit(EventType.STEP_SKIPPED, cmd.step, cmd.attempt, reason=waited)
        return
    prefill = b.current.steps[cmd.step].prefill
    problem = None
    if step.on_timeout == "use_prefill":
        assert step.input_schema is not None
        found = violations(step.input_schema, prefill)
        if not found:
            b.emit(EventType.INPUT_SUBMITTED, cmd.step, cmd.attempt, artifact=cmd.artifact)
            outputs[cmd.step] = prefill
            return
        problem = f"; its prefill does not fit the schema ({found[0].message})"
    error: JSONObject = {"type": "WaitTimeout", "message": waited + (problem or "")}
    b.emit(EventType.STEP_FAILED, cmd.step, cmd.attempt, error=error, will_retry=False)


def _retry(spec: PipelineSpec, b: _Builder) -> None:
    state = b.current
    if state.status in (TaskStatus.COMPLETED, TaskStatus.CANCELLED):
        raise _finished(state, Retry(actor=b.actor))
    if state.status is not TaskStatus.FAILED:
        raise InvalidCommand(
            f"Task {state.id} is {state.status.value}; only a FAILED task can be retried.",
            task_id=state.id,
            status=state.status.value,
        )
    failed = [k for k, v in state.steps.items() if v.status is StepStatus.FAILED]
    b.emit(EventType.TASK_RETRIED, steps=list(failed))
    for step_id in failed:
        b.emit(EventType.STEP_RESET, step_id, state.steps[step_id].attempt)


def _known_step(spec: PipelineSpec, state: TaskState, step: str) -> StepSpec:
    if not spec.has_step(step):
        raise StepNotFound(
            f"Pipeline {spec.name} v{spec.version} has no step '{cut(step)}'.",
            task_id=state.id,
            step=step,
            steps=list(spec.step_ids),
        )
    return spec.step(step)


def downstream(spec: PipelineSpec, step: str) -> list[str]:
    """``step`` and every step that depends on it, directly or not, in definition order."""
    found = {step}
    for s in spec.order:
        if any(d in found for d in s.depends_on):
            found.add(s.id)
    return [s.id for s in spec.steps if s.id in found]


def _rerun(spec: PipelineSpec, b: _Builder, cmd: Rerun, outputs: dict[str, JSONValue]) -> None:
    state = b.current
    step = _known_step(spec, state, cmd.step)
    if state.status is TaskStatus.CANCELLED:
        raise _finished(state, cmd)
    if state.steps[cmd.step].status is StepStatus.PENDING:
        raise InvalidCommand(
            f"Step '{cmd.step}' has not run yet; only a step that has run can be rerun.",
            task_id=state.id,
            step=cmd.step,
        )
    if cmd.has_input and step.kind is not StepKind.WAIT_USER:
        raise InvalidCommand(
            f"Step '{cmd.step}' is an auto step; input can be given only when rerunning a "
            "wait step.",
            task_id=state.id,
            step=cmd.step,
        )
    if cmd.has_input:
        assert step.input_schema is not None
        check_input(step.input_schema, cmd.input, step=cmd.step)
    again = [
        s for s in downstream(spec, cmd.step) if state.steps[s].status is not StepStatus.PENDING
    ]
    reason = cmd.reason or f"rerun from {cmd.step}"
    listed: list[JSONValue] = list(again)
    b.emit(EventType.TASK_REOPENED, why="rerun", from_step=cmd.step, steps=listed, reason=reason)
    for step_id in again:
        b.emit(EventType.STEP_RERUN, step_id, state.steps[step_id].attempt or None, reason=reason)
    for step_id in again:
        outputs.pop(step_id, None)
    if step.kind is StepKind.WAIT_USER and (cmd.previous is not None or cmd.has_input):
        attempt = state.steps[cmd.step].attempt + 1
        b.emit(EventType.STEP_WAITING, cmd.step, attempt, prefill=cmd.previous, rerun=True)
        if cmd.has_input:
            b.emit(EventType.INPUT_SUBMITTED, cmd.step, attempt, artifact=cmd.artifact)
            outputs[cmd.step] = cmd.input


def _skip(spec: PipelineSpec, b: _Builder, cmd: Skip) -> None:
    state = b.current
    _known_step(spec, state, cmd.step)
    if state.status in (TaskStatus.COMPLETED, TaskStatus.CANCELLED):
        raise _finished(state, cmd)
    current = state.steps[cmd.step]
    if current.status not in (StepStatus.FAILED, StepStatus.WAITING_USER):
        raise InvalidCommand(
            f"Step '{cmd.step}' is {current.status.value}; only a FAILED or WAITING_USER step "
            "can be skipped.",
            task_id=state.id,
            step=cmd.step,
            step_status=current.status.value,
        )
    reason = cmd.reason or "skipped by an operator"
    if state.status is TaskStatus.FAILED:
        b.emit(EventType.TASK_REOPENED, why="skip", from_step=cmd.step, reason=reason)
    b.emit(EventType.STEP_SKIPPED, cmd.step, current.attempt or None, reason=reason)


def _cancel(b: _Builder, cmd: Cancel) -> None:
    state = b.current
    if state.status in (TaskStatus.COMPLETED, TaskStatus.CANCELLED):
        raise _finished(state, cmd)  # a FAILED task may still be given up for good
    reason = cmd.reason or "cancelled"
    for step_id, step in state.steps.items():
        if step.status.open or step.status is StepStatus.PENDING:
            b.emit(EventType.STEP_CANCELLED, step_id, step.attempt or None, reason=reason)
    b.emit(EventType.TASK_CANCELLED, reason=reason)


def _settle(spec: PipelineSpec, b: _Builder, outputs: Outputs) -> None:
    """Open every step whose dependencies are done, then finish the task if it can.

    One pass over the steps, dependencies first, decides them all: a step opened
    here that is skipped at once (its condition is false) counts as done for the
    steps after it. Opening a step never ends the task, so a task that is still
    going when the pass starts is still going at its end.
    """
    if b.current.status in TERMINAL_TASK:
        return
    for step in spec.order:
        steps = b.current.steps
        if steps[step.id].status is StepStatus.PENDING and all(
            steps[d].status in DONE for d in step.depends_on
        ):
            _open(spec, step, b, outputs)
    _finish(b)


def _open(spec: PipelineSpec, step: StepSpec, b: _Builder, outputs: Outputs) -> None:
    state = b.current
    attempt = state.steps[step.id].attempt
    if step.when is not None:
        try:
            go = compile_expression(step.when).is_true(_activation(spec, state, outputs))
        except ExpressionError as exc:
            b.emit(
                EventType.STEP_FAILED,
                step.id,
                attempt or None,
                will_retry=False,
                error={
                    "type": "ConditionError",
                    "message": f"the condition {step.when!r} failed: {exc}",
                },
            )
            return
        if not go:
            b.emit(EventType.STEP_SKIPPED, step.id, reason=f"condition is false: {step.when}")
            return
    if step.kind is StepKind.AUTO:
        b.emit(EventType.STEP_QUEUED, step.id, attempt + 1)
        return
    prefill: JSONValue = None
    data: dict[str, Any] = {}
    if step.prefill is not None:
        try:
            prefill = compile_expression(step.prefill).evaluate(_activation(spec, state, outputs))
        except ExpressionError as exc:
            data["prefill_error"] = str(exc)
    b.emit(EventType.STEP_WAITING, step.id, attempt + 1, prefill=prefill, **data)


def _activation(spec: PipelineSpec, state: TaskState, outputs: Outputs) -> dict[str, JSONValue]:
    artifacts = {
        k: v
        for k, v in outputs.items()
        if state.steps.get(k) and state.steps[k].status is StepStatus.COMPLETED
    }
    inputs = {k: v for k, v in artifacts.items() if spec.step(k).kind is StepKind.WAIT_USER}
    return {"config": state.config, "artifacts": artifacts, "inputs": inputs}


def _finish(b: _Builder) -> None:
    state = b.current
    statuses = [s.status for s in state.steps.values()]
    if all(s in DONE for s in statuses):
        b.emit(EventType.TASK_COMPLETED)
        return
    if StepStatus.READY in statuses or StepStatus.RUNNING in statuses:
        return
    failed = [k for k, v in state.steps.items() if v.status is StepStatus.FAILED]
    if failed:
        first = state.steps[failed[0]]
        message = (first.error or {}).get("message", "failed")
        b.emit(
            EventType.TASK_FAILED,
            reason=f"step '{failed[0]}' failed: {message}",
            steps=list(failed),
        )
