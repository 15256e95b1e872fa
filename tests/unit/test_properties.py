"""Property tests of the core: random DAG pipelines driven by random legal commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from segue.core import (
    Cancel,
    ClaimStep,
    Command,
    CompleteStep,
    Event,
    EventType,
    ExpireLease,
    FailStep,
    Retry,
    StepStatus,
    SubmitInput,
    TaskState,
    TaskStatus,
    advance,
    apply,
    replay,
    start,
)
from segue.core.states import STEP_TRANSITIONS
from segue.errors import LeaseLost, UserError
from segue.spec import PipelineSpec, load_pipeline

T0 = datetime(2024, 5, 1, tzinfo=UTC)
MAX_COMMANDS = 30
NEEDS_DONE_DEPS = frozenset(
    {
        StepStatus.READY,
        StepStatus.RUNNING,
        StepStatus.WAITING_USER,
        StepStatus.COMPLETED,
        StepStatus.SKIPPED,
        StepStatus.FAILED,
    }
)
FINAL = frozenset({TaskStatus.COMPLETED, TaskStatus.CANCELLED})


@st.composite
def pipelines(draw: st.DrawFn) -> tuple[PipelineSpec, dict[str, Any]]:
    """A random valid DAG of 3-7 steps, and a config giving every condition flag."""
    count = draw(st.integers(3, 7))
    steps: list[dict[str, Any]] = []
    config: dict[str, Any] = {}
    for i in range(count):
        step: dict[str, Any] = {"id": f"s{i}"}
        earlier = [f"s{j}" for j in range(i)]
        step["depends_on"] = (
            draw(st.lists(st.sampled_from(earlier), unique=True)) if earlier else []
        )
        if draw(st.booleans()):
            step["type"] = "auto"
            step["run"] = "segue.builtins:passthrough"
            attempts = draw(st.integers(1, 3))
            if attempts > 1:
                step["retry"] = {"max_attempts": attempts, "initial_delay": "1s"}
        else:
            step["type"] = "wait_user"
            step["input_schema"] = {"type": "object"}
        if draw(st.integers(0, 3)) == 0:
            step["when"] = f"config.flag_{i}"
            config[f"flag_{i}"] = draw(st.booleans())
        steps.append(step)
    definition = {"pipeline": "prop", "version": 1, "steps": steps}
    return load_pipeline(json.dumps(definition), "prop.json"), config


def legal_commands(state: TaskState) -> list[Command]:
    """The step commands that the current state accepts (no cancel)."""
    if state.status is TaskStatus.FAILED:
        return [Retry(actor="op")]
    commands: list[Command] = []
    for step_id, step in state.steps.items():
        if step.status is StepStatus.READY:
            commands.append(ClaimStep(step=step_id, attempt=step.attempt, worker="w"))
        elif step.status is StepStatus.RUNNING:
            commands += [
                CompleteStep(step=step_id, attempt=step.attempt, artifact={"n": step.attempt}),
                FailStep(step=step_id, attempt=step.attempt, error_type="E", message="x"),
                FailStep(
                    step=step_id, attempt=step.attempt, error_type="E", message="x", permanent=True
                ),
                ExpireLease(step=step_id, attempt=step.attempt),
            ]
        elif step.status is StepStatus.WAITING_USER:
            commands.append(SubmitInput(step=step_id, input={}, actor="u"))
    return commands


def stale_commands(state: TaskState) -> list[Command]:
    """Commands that the current state must reject, whatever it is."""
    commands: list[Command] = []
    for step_id, step in state.steps.items():
        commands.append(ClaimStep(step=step_id, attempt=step.attempt + 1, worker="w"))
        commands.append(CompleteStep(step=step_id, attempt=step.attempt + 1))
        if step.status is not StepStatus.WAITING_USER:
            commands.append(SubmitInput(step=step_id, input={}))
    commands.append(SubmitInput(step="no_such_step", input={}))
    if state.status is not TaskStatus.FAILED:
        commands.append(Retry())
    if state.status in FINAL:  # a FAILED task may still be cancelled
        commands.append(Cancel())
    return commands


def check_events(events: list[Event]) -> None:
    """Seqs are 1..n; fold event by event: legal step transitions, attempts never decrease."""
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].type is EventType.TASK_CREATED
    finals = [
        i
        for i, e in enumerate(events)
        if e.type in (EventType.TASK_COMPLETED, EventType.TASK_CANCELLED)
    ]
    assert len(finals) <= 1
    if finals:
        assert finals[0] == len(events) - 1, "nothing may follow a final task event"
    state = apply(None, events[0])
    for ev in events[1:]:
        after = apply(state, ev)
        for step_id, before in state.steps.items():
            now = after.steps[step_id]
            if now.status is not before.status:
                assert now.status in STEP_TRANSITIONS[before.status], (
                    f"{step_id}: {before.status} -> {now.status} on {ev.type}"
                )
            assert now.attempt >= before.attempt
        if state.status in FINAL:
            raise AssertionError(f"event {ev.type} after the task was {state.status}")
        state = after


def check_state(spec: PipelineSpec, state: TaskState, config: dict[str, Any]) -> None:
    """Dependencies are respected, conditions decide skips, and a live task can move."""
    for step in spec.steps:
        status = state.step(step.id).status
        if status in NEEDS_DONE_DEPS:
            assert all(state.step(d).status.done for d in step.depends_on), (
                f"{step.id} is {status} before its dependencies are done"
            )
        if status is StepStatus.SKIPPED:
            assert step.when is not None and config[step.when.removeprefix("config.")] is False
        if step.when is not None and config[step.when.removeprefix("config.")] is False:
            assert status in (StepStatus.PENDING, StepStatus.SKIPPED, StepStatus.CANCELLED)
    if not state.status.terminal:
        assert any(s.status.open for s in state.steps.values()), "a live task has nothing to do"
    if state.status is TaskStatus.COMPLETED:
        assert all(s.status.done for s in state.steps.values())
    assert TaskState.from_json(json.loads(json.dumps(state.to_json()))) == state


def expect_rejected(spec: PipelineSpec, state: TaskState, command: Command, now: datetime) -> None:
    """The command raises, and the state is unchanged."""
    before = state.to_json()
    try:
        advance(spec, state, command, now)
    except (UserError, LeaseLost):
        pass
    else:
        raise AssertionError(f"{command} was accepted by a {state.status} task")
    assert state.to_json() == before


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=pipelines(), data=st.data())
def test_random_runs_keep_the_invariants(
    case: tuple[PipelineSpec, dict[str, Any]], data: st.DataObject
) -> None:
    """Random legal commands keep replay, seq, dependency, transition and attempt invariants."""
    spec, config = case
    transition = start(spec, "t", config, T0)
    state, events = transition.state, list(transition.events)
    check_events(events)
    check_state(spec, state, config)
    assert replay(events) == state
    for n in range(1, MAX_COMMANDS + 1):
        now = T0 + timedelta(seconds=n)
        if data.draw(st.integers(0, 3), label="probe stale") == 0:
            stale = data.draw(st.sampled_from(stale_commands(state)), label="stale")
            expect_rejected(spec, state, stale, now)
        if state.status in FINAL:
            for command in [Cancel(), Retry(), *legal_commands(state), *stale_commands(state)]:
                expect_rejected(spec, state, command, now)
            break
        legal = legal_commands(state)
        if data.draw(st.integers(0, 59), label="cancel") == 30:
            legal = [Cancel(actor="op", reason="prop")]
        command = data.draw(st.sampled_from(legal), label="command")
        previous = state
        transition = advance(spec, state, command, now)
        assert transition.events, "an accepted command records at least one event"
        state = transition.state
        events.extend(transition.events)
        assert replay(events) == state
        assert state.revision == len(events)
        for step_id, step in state.steps.items():
            assert step.attempt >= previous.step(step_id).attempt
        check_events(events)
        check_state(spec, state, config)
        event(f"command: {type(command).__name__}")
    event(f"last status: {state.status.value}")
