"""The task view: the one shape every client reads (API, CLI ``--json``, Python).

Keep it stable: front ends render from it and never guess the next step.
"""

from __future__ import annotations

from typing import Any

from segue.core.states import StepStatus
from segue.core.task import TaskState
from segue.spec.model import PipelineSpec, StepKind
from segue.types import JSONObject, isoformat

TaskView = dict[str, Any]
"""The task view as plain JSON (see :func:`task_view`)."""


def task_view(spec: PipelineSpec, state: TaskState) -> TaskView:
    """Return ``{id, pipeline, version, status, current_step, required_input, waiting,
    steps, config, revision, created_at, updated_at, error}`` for a task."""  # noqa: D205,D209
    waiting = [
        _required_input(spec, state, step_id)
        for step_id, step in state.steps.items()
        if step.status is StepStatus.WAITING_USER
    ]
    current = current_step(state)
    required = next((w for w in waiting if w["step"] == current), None)
    if state.status.terminal:
        waiting, required = [], None
    return {
        "id": state.id,
        "pipeline": state.pipeline,
        "version": state.version,
        "status": state.status._value_,
        "current_step": current,
        "required_input": required,
        "waiting": waiting,
        "steps": [
            {
                "id": step_id,
                "type": spec.step(step_id).kind._value_,
                "title": spec.step(step_id).title,
                "status": step.status._value_,
                "attempt": step.attempt,
                "started_at": isoformat(step.started_at),
                "finished_at": isoformat(step.finished_at),
                "error": step.error,
                "reason": step.reason,
            }
            for step_id, step in state.steps.items()
        ],
        "config": state.config,
        "revision": state.revision,
        "created_at": isoformat(state.created_at),
        "updated_at": isoformat(state.updated_at),
        "error": state.error,
    }


def current_step(state: TaskState) -> str | None:
    """The first open wait step, else the first queued or running step, else the
    first failed step, else None."""  # noqa: D205,D209
    for wanted in (
        (StepStatus.WAITING_USER,),
        (StepStatus.RUNNING, StepStatus.READY),
        (StepStatus.FAILED,),
    ):
        for step_id, step in state.steps.items():
            if step.status in wanted:
                if state.status.terminal and step.status is not StepStatus.FAILED:
                    continue
                return step_id
    return None


def _required_input(spec: PipelineSpec, state: TaskState, step_id: str) -> JSONObject:
    step = spec.step(step_id)
    assert step.kind is StepKind.WAIT_USER
    return {
        "step": step_id,
        "title": step.title or step_id,
        "description": step.description,
        "schema": step.input_schema,
        "prefill": state.steps[step_id].prefill,
    }
