"""Operator controls: rerun, skip, time travel, fork, migrate and plan versions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from segue import core
from segue.core import migration
from segue.core.commands import Command
from segue.core.machine import Transition
from segue.core.schemas import violations
from segue.core.task import Event, TaskState
from segue.core.view import TaskView
from segue.encoding import (
    apply_config_defaults,
    artifact_ref,
    canonical_json,
)
from segue.errors import (
    InvalidCommand,
)
from segue.service_core import UNSET, Idempotency, ServiceCore, _Unset
from segue.spec import PipelineSpec
from segue.store.base import Artifact, NewArtifact
from segue.types import JSONObject, JSONValue, new_task_id


class Controls(ServiceCore):
    """The use cases operators call to repair, replay and move tasks."""

    def state_at(self, task_id: str, seq: int) -> tuple[TaskState, list[Artifact]]:
        """The task as it was right after event ``seq``, and the artifacts current then.

        Rebuilt by folding the first ``seq`` events through the pure core.

        Raises:
            TaskNotFound; InvalidCommand when the task has no event ``seq``.
        """
        _, past, artifacts = self._past(task_id, seq)
        return past, artifacts

    def history(self, task_id: str, seq: int) -> dict[str, Any]:
        """``{at, revision, event, task, artifacts}``: the task right after event ``seq``
        (its view then, event ``seq`` itself, and the artifacts that were current then)."""  # noqa: D205,D209
        events, past, artifacts = self._past(task_id, seq)
        return {
            "at": seq,
            "revision": self.store.get_task(task_id).revision,
            "event": events[-1].to_json(),
            "task": self.view_of(past),
            "artifacts": [{**a.listing(), "current": True} for a in artifacts],
        }

    def _past(self, task_id: str, seq: int) -> tuple[list[Event], TaskState, list[Artifact]]:
        events = self.events(task_id, 0, seq)
        if seq < 1 or len(events) < seq:
            raise InvalidCommand(
                f"Task {task_id} has events 1 to {self.store.get_task(task_id).revision}; "
                f"there is no event {seq}.",
                task_id=task_id,
                seq=seq,
            )
        past = core.replay(events)
        then = {
            (k, s.attempt) for k, s in past.steps.items() if s.status is core.StepStatus.COMPLETED
        }
        found = self.artifacts(task_id, current_only=False)
        return events, past, [a for a in found if (a.step, a.attempt) in then]

    def fork(
        self,
        task_id: str,
        seq: int,
        *,
        actor: str | None = None,
        idempotency: Idempotency | None = None,
    ) -> TaskView:
        """A new task that starts from this task's state after event ``seq``.

        The steps completed then are carried over with their artifacts; the
        original task is not touched.
        """
        past, carried = self.state_at(task_id, seq)
        spec = self.spec(past.pipeline, past.version)
        copies = {a.step: _copy_of(a) for a in carried}
        outputs = {a.step: self.artifact_value(a) for a in carried}
        with self.store.transaction() as tx:
            replayed = self._replay(tx, idempotency)
            if replayed is not None:
                return replayed
            transition = core.fork(
                spec,
                past,
                new_task_id(),
                self.clock.now(),
                carried={step: artifact_ref(a) for step, a in copies.items()},
                actor=actor,
                outputs=outputs,
            )
            tx.insert_task(transition.state, transition.events)
            for artifact in copies.values():
                tx.put_artifact(transition.state.id, artifact, self._now_iso())
            self._effects(tx, transition)
            view = self.view_of(transition.state)
            self._remember(tx, idempotency, view)
        self._notify(tx.written)
        return view

    def migrate(
        self,
        task_id: str,
        to_version: int,
        *,
        step_map: Mapping[str, str] | None = None,
        actor: str | None = None,
        reason: str | None = None,
        idempotency: Idempotency | None = None,
    ) -> TaskView:
        """Move a task to another registered version of its pipeline (:mod:`~segue.core.migration`).

        Raises:
            TaskNotFound, PipelineNotFound; InvalidCommand listing every reason
            the move is not safe (``details["problems"]``). Nothing changes then.
        """
        renames = dict(step_map or {})
        with self.store.transaction() as tx:
            replayed = self._replay(tx, idempotency)
            if replayed is not None:
                return replayed
            state = tx.lock_task(task_id)
            old, new = (
                self.spec(state.pipeline, state.version),
                self.spec(state.pipeline, to_version),
            )
            now = self.clock.now()
            config, config_errors = _config_under(new, state)
            moved, event = migration.migrate(
                old,
                new,
                state,
                renames,
                now,
                actor=actor,
                reason=reason,
                config=config,
                config_errors=config_errors,
            )
            for step, origin in migration.counterparts(old, new, renames).items():
                if origin is not None and origin != step:
                    tx.rename_step(task_id, origin, step)
            refs = self._compiled(state.pipeline, to_version).all_refs
            outputs = tx.outputs(task_id, sorted(refs)) if refs else {}
            settled = core.settle(new, moved, now, outputs=outputs, actor=actor)
            self._write(tx, state, Transition(settled.state, (event, *settled.events)))
            view = core.task_view(new, settled.state)
            self._remember(tx, idempotency, view)
        self._notify(tx.written)
        return view

    def plan(self, text: str, filename: str | None = None) -> dict[str, Any]:
        """Before registering ``text``: the in-flight tasks of other versions, and whether
        each group (version, status, current step) could migrate to it, and why not."""  # noqa: D205,D209
        new = self.load(text, filename)
        groups: dict[tuple[Any, ...], dict[str, Any]] = {}
        cursor: str | None = None
        while True:
            page = self.list_tasks(pipeline=new.name, limit=200, cursor=cursor)
            for state in page.tasks:
                if state.status.terminal and state.status is not core.TaskStatus.FAILED:
                    continue
                if state.version == new.version:
                    continue
                old = self.spec(state.pipeline, state.version)
                found = migration.problems(old, new, state, {}, _config_under(new, state)[1])
                key = (state.version, state.status.value, core.current_step(state), *found)
                if key not in groups:
                    groups[key] = {
                        "version": key[0],
                        "status": key[1],
                        "current_step": key[2],
                        "tasks": 0,
                        "can_migrate": not found,
                        "reasons": found,
                        "example_task": state.id,
                    }
                groups[key]["tasks"] += 1
            cursor = page.next_cursor
            if cursor is None:
                break
        listed = sorted(
            groups.values(), key=lambda g: (g["version"], g["status"], str(g["current_step"]))
        )
        return {
            "pipeline": new.name,
            "version": new.version,
            "in_flight": sum(g["tasks"] for g in listed),
            "groups": listed,
        }

    def rerun(
        self,
        task_id: str,
        step: str,
        *,
        input: JSONValue | _Unset = UNSET,
        actor: str | None = None,
        reason: str | None = None,
        idempotency: Idempotency | None = None,
    ) -> TaskView:
        """Run ``step`` and everything downstream again, as a new generation.

        A wait step waits again with its last input as the prefill ("re-confirm"),
        or takes ``input`` at once. Older artifacts stay readable by attempt.

        Raises:
            TaskNotFound, TaskFinished (cancelled), StepNotFound, InvalidCommand
            (the step has not run), InputInvalid.
        """
        given = not isinstance(input, _Unset)
        value: JSONValue = None if isinstance(input, _Unset) else input
        artifact = self._encode_input(step, value) if given else None
        with self.store.transaction() as tx:
            replayed = self._replay(tx, idempotency)
            if replayed is not None:
                return replayed
            state = tx.lock_task(task_id)
            current = state.steps.get(step)
            previous = tx.outputs(task_id, [step]).get(step) if current else None
            if artifact is not None and current is not None:
                artifact = replace(
                    artifact,
                    attempt=current.attempt + 1,
                    generation=current.generation + 1,
                    meta_text=self._answer_meta(previous, artifact, value),
                )
            command = core.Rerun(
                step=step,
                actor=actor,
                reason=reason,
                input=value,
                has_input=given,
                previous=previous,
                artifact=artifact_ref(artifact) if artifact else {},
            )
            transition = self._apply(tx, state, command, {step: value} if given else {})
            if artifact is not None:
                tx.put_artifact(task_id, artifact, self._now_iso())
            view = self.view_of(transition.state)
            self._remember(tx, idempotency, view)
        self._notify(tx.written)
        return view

    def skip(
        self,
        task_id: str,
        step: str,
        *,
        actor: str | None = None,
        reason: str | None = None,
        idempotency: Idempotency | None = None,
    ) -> TaskView:
        """Skip a FAILED or waiting step; its dependents proceed (a FAILED task reopens)."""
        return self.control(task_id, core.Skip(step=step, actor=actor, reason=reason), idempotency)

    def control(
        self, task_id: str, command: Command, idempotency: Idempotency | None = None
    ) -> TaskView:
        """Apply an operator's command (cancel, retry, skip), once per idempotency key."""
        with self.store.transaction() as tx:
            replayed = self._replay(tx, idempotency)
            if replayed is not None:
                return replayed
            view = self.view_of(self._apply(tx, tx.lock_task(task_id), command).state)
            self._remember(tx, idempotency, view)
        self._notify(tx.written)
        return view


def _config_under(new: PipelineSpec, state: TaskState) -> tuple[JSONObject, list[str]]:
    """The task's config with the new version's defaults, and what breaks its schema."""
    config = apply_config_defaults(new.config_schema, dict(state.config))
    found = violations(new.config_schema, config)
    return config, [f"{v.pointer or '/'}: {v.message}" for v in found[:5]]


def _copy_of(artifact: Artifact) -> NewArtifact:
    """The same stored output, as attempt 1 of a new task's step (blobs are shared)."""
    return NewArtifact(
        step=artifact.step,
        attempt=1,
        generation=1,
        kind=artifact.kind,
        value_text=canonical_json(artifact.value) if artifact.kind == "json" else None,
        sha256=artifact.sha256,
        size=artifact.size,
        content_type=artifact.content_type,
        meta_text=canonical_json(artifact.meta) if artifact.meta else None,
    )
