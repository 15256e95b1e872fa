"""Moving a task to another version of its pipeline, or saying why it cannot move.

A task keeps the version it started on unless an operator migrates it. The
move is allowed when every step that has already done something (finished,
failed, running, queued or waiting) has a counterpart of the same kind in the
new version — the same id, or the one ``step_map`` names — and no step that is
new in that version would come *before* one that has already run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from segue.core.states import StepStatus, TaskStatus
from segue.core.task import Event, EventType, TaskState, apply
from segue.errors import InvalidCommand
from segue.spec.model import PipelineSpec
from segue.types import JSONObject, JSONValue


def counterparts(
    old: PipelineSpec, new: PipelineSpec, step_map: Mapping[str, str]
) -> dict[str, str | None]:
    """For each step of ``new``, the step of ``old`` it continues (None: a new step)."""
    back: dict[str, str | None] = dict.fromkeys(new.step_ids)
    for step in old.step_ids:
        target = step_map.get(step, step)
        if target in back and back[target] is None:
            back[target] = step
    return back


def problems(
    old: PipelineSpec,
    new: PipelineSpec,
    state: TaskState,
    step_map: Mapping[str, str],
    config_errors: Sequence[str] = (),
) -> list[str]:
    """Why ``state`` (a task of ``old``) cannot move to ``new``; empty when it can.

    ``config_errors`` are the shell's findings on the task's config under the
    new version's schema (its defaults applied).
    """
    if state.status in (TaskStatus.COMPLETED, TaskStatus.CANCELLED):
        return [f"the task is {state.status.value}"]
    if new.version == old.version:
        return [f"the task already runs version {old.version}"]
    config = [f"its config does not fit version {new.version}: {e}" for e in config_errors]
    found = config + [
        f"step_map names '{s}', which version {old.version} does not have"
        for s in step_map
        if not old.has_step(s)
    ]
    found += [
        f"step_map maps to '{t}', which version {new.version} does not have"
        for t in step_map.values()
        if not new.has_step(t)
    ]
    ran = {s: v.status for s, v in state.steps.items() if v.status is not StepStatus.PENDING}
    for step, status in ran.items():
        target = step_map.get(step, step)
        if not new.has_step(target):
            found.append(
                f"step '{step}' is {status.value} and version {new.version} has no step '{target}'"
            )
        elif new.step(target).kind is not old.step(step).kind:
            found.append(
                f"step '{step}' is {old.step(step).kind.value} but '{target}' in "
                f"version {new.version} is {new.step(target).kind.value}"
            )
    done_targets = {step_map.get(s, s) for s in ran}
    for step, origin in counterparts(old, new, step_map).items():
        if origin is None:
            later = sorted(
                t for t in done_targets if new.has_step(t) and step in _ancestors(new, t)
            )
            if later:
                found.append(
                    f"new step '{step}' would come before '{later[0]}', which has already run"
                )
    return found


def migrate(
    old: PipelineSpec,
    new: PipelineSpec,
    state: TaskState,
    step_map: Mapping[str, str],
    now: datetime,
    *,
    actor: str | None = None,
    reason: str | None = None,
    config: JSONObject | None = None,
    config_errors: Sequence[str] = (),
) -> tuple[TaskState, Event]:
    """The task moved to ``new``, and the ``task_migrated`` event that says so.

    ``config`` is the task's config as the new version reads it (its defaults
    applied, checked by the shell); the old config is kept when it is None.

    Raises:
        InvalidCommand: the move is not safe; ``details["reasons"]`` lists why.
    """
    found = problems(old, new, state, step_map, config_errors)
    if found:
        raise InvalidCommand(
            f"Task {state.id} cannot move from version {old.version} to {new.version}: "
            + "; ".join(found)
            + ".",
            task_id=state.id,
            reasons=found,
        )
    steps: dict[str, JSONValue] = dict(counterparts(old, new, step_map))
    event = Event(
        seq=state.revision + 1,
        type=EventType.TASK_MIGRATED,
        at=now,
        actor=actor,
        data={
            "from_version": old.version,
            "to_version": new.version,
            "steps": steps,
            "reason": reason,
            "config": state.config if config is None else config,
        },
    )
    return apply(state, event), event


def _ancestors(spec: PipelineSpec, step: str) -> set[str]:
    found: set[str] = set()
    todo = list(spec.step(step).depends_on)
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(spec.step(current).depends_on)
    return found
