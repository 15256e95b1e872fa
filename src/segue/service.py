"""The use cases. Every entry point (CLI, Python API, HTTP, workers) goes through here.

Each use case is one transaction: lock the task, run the pure core, write the
state row, the events, new step runs and artifacts together, commit.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from segue import core
from segue.core.commands import Command
from segue.core.machine import Transition
from segue.core.schemas import violations
from segue.core.task import Event, EventType, TaskState
from segue.core.view import TaskView
from segue.errors import (
    ArtifactTooLarge,
    ConfigInvalid,
    LeaseLost,
    PipelineInvalid,
    Problem,
    RevisionMismatch,
    UserError,
)
from segue.runtime.clock import Clock, SystemClock, epoch_ms
from segue.runtime.handlers import HandlerRegistry
from segue.spec import PipelineSpec, load_pipeline
from segue.spec.expr import compile_expression
from segue.spec.validate import ancestors_of
from segue.store.base import Artifact, NewArtifact, PipelineRecord, RunClaim, Store, TaskPage, Tx
from segue.store.sql import dumps
from segue.types import JSONObject, JSONValue, isoformat, new_task_id, parse_iso

DEFAULT_INLINE_LIMIT_BYTES = 64 * 1024
"""Artifacts up to this size are kept inline in the database; larger ones as blobs."""
DEFAULT_MAX_ARTIFACT_BYTES = 16 * 1024 * 1024
"""A step output over this size fails the step (permanently)."""
DEFAULT_LEASE_S = 30.0


@dataclass(frozen=True, slots=True)
class _Compiled:
    spec: PipelineSpec
    expression_steps: frozenset[str]
    ancestors: Mapping[str, frozenset[str]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """A claimed step run, with what its handler needs."""

    claim: RunClaim
    spec: PipelineSpec
    config: JSONObject
    artifacts: dict[str, JSONValue]
    inputs: dict[str, JSONValue]

    @property
    def step(self) -> str:
        """The step id."""
        return self.claim.step


class Service:
    """Segue's use cases over one store."""

    def __init__(
        self,
        store: Store,
        *,
        handlers: HandlerRegistry | None = None,
        clock: Clock | None = None,
        inline_limit_bytes: int = DEFAULT_INLINE_LIMIT_BYTES,
        max_artifact_bytes: int = DEFAULT_MAX_ARTIFACT_BYTES,
    ) -> None:
        self.store = store
        self.handlers = handlers or HandlerRegistry()
        self.clock = clock or SystemClock()
        self.inline_limit_bytes = inline_limit_bytes
        self.max_artifact_bytes = max_artifact_bytes
        self._specs: dict[tuple[str, int], _Compiled] = {}
        self._lock = threading.Lock()
        self._random = random.Random()

    # -- pipelines ---------------------------------------------------------------------

    def load(self, text: str, filename: str | None = None) -> PipelineSpec:
        """Parse and validate a definition (handlers must resolve), without registering it."""
        return load_pipeline(text, filename, check_handler=self.handlers.check)

    def register(self, text: str, filename: str | None = None) -> tuple[PipelineSpec, bool]:
        """Register a definition; returns (spec, True if it was new).

        Raises:
            PipelineInvalid: the definition has problems.
            VersionConflict: the version exists with different content.
        """
        spec = self.load(text, filename)
        created = self.store.register_pipeline(
            PipelineRecord(
                name=spec.name,
                version=spec.version,
                content_hash=spec.content_hash,
                source=dumps(spec.source),
                created_at=self._now_iso(),
            )
        )
        return spec, created

    def register_path(self, path: str | Path) -> list[tuple[PipelineSpec, bool]]:
        """Register one definition file, or every ``*.yaml``/``*.yml``/``*.json`` in a folder."""
        root = Path(path)
        files = (
            sorted(p for p in root.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
            if root.is_dir()
            else [root]
        )
        return [self.register(read_definition(f), str(f)) for f in files]

    def spec(self, name: str, version: int | None = None) -> PipelineSpec:
        """A registered pipeline version (the latest when ``version`` is None)."""
        return self._compiled(name, version).spec

    def _compiled(self, name: str, version: int | None) -> _Compiled:
        if version is not None and (name, version) in self._specs:
            return self._specs[(name, version)]
        record = self.store.get_pipeline(name, version)
        key = (record.name, record.version)
        with self._lock:
            if key not in self._specs:
                # Registered versions are immutable: load once without re-checking handlers.
                spec = load_pipeline(record.source, f"{name}@{record.version}")
                steps: set[str] = set()
                for step in spec.steps:
                    for source in (step.when, step.prefill):
                        if source:
                            steps |= compile_expression(source).steps
                self._specs[key] = _Compiled(spec, frozenset(steps), ancestors_of(spec))
            return self._specs[key]

    def pipelines(self) -> list[PipelineRecord]:
        """Every registered pipeline version."""
        return self.store.list_pipelines()

    # -- tasks -------------------------------------------------------------------------

    def start(
        self,
        pipeline: str,
        config: Mapping[str, Any] | None = None,
        *,
        version: int | None = None,
        actor: str | None = None,
    ) -> TaskState:
        """Start a task of a registered pipeline (its latest version unless named).

        Raises:
            PipelineNotFound, ConfigInvalid.
        """
        compiled = self._compiled(pipeline, version)
        values = apply_config_defaults(compiled.spec.config_schema, dict(config or {}))
        found = violations(compiled.spec.config_schema, values)
        if found:
            listed = "; ".join(f"{v.pointer or '/'}: {v.message}" for v in found[:5])
            raise ConfigInvalid(f"The config for {pipeline} is invalid: {listed}.", found)
        task_id = new_task_id()
        with self.store.transaction() as tx:
            transition = core.start(compiled.spec, task_id, values, self.clock.now(), actor=actor)
            tx.insert_task(transition.state, transition.events)
            self._effects(tx, transition)
        return transition.state

    def get(self, task_id: str) -> TaskState:
        """A task's current state."""
        return self.store.get_task(task_id)

    def view(self, task_id: str) -> TaskView:
        """The task view (see :func:`segue.core.task_view`)."""
        return self.view_of(self.store.get_task(task_id))

    def view_of(self, state: TaskState) -> TaskView:
        """The task view of a state already read."""
        return core.task_view(self.spec(state.pipeline, state.version), state)

    def list_tasks(
        self,
        *,
        status: str | None = None,
        pipeline: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> TaskPage:
        """Tasks, newest first."""
        return self.store.list_tasks(status=status, pipeline=pipeline, limit=limit, cursor=cursor)

    def events(self, task_id: str, after: int = 0, limit: int | None = None) -> list[Event]:
        """A task's event log (TaskNotFound for an unknown id)."""
        self.store.get_task(task_id)
        return self.store.events(task_id, after, limit)

    def artifacts(
        self, task_id: str, step: str | None = None, *, current_only: bool = True
    ) -> list[Artifact]:
        """A task's artifacts (TaskNotFound for an unknown id)."""
        self.store.get_task(task_id)
        return self.store.artifacts(task_id, step, current_only=current_only)

    def advance(
        self,
        task_id: str,
        step: str,
        value: JSONValue,
        *,
        actor: str | None = None,
        expected_revision: int | None = None,
    ) -> TaskState:
        """Submit a person's input for a waiting step, then let the task go on.

        Raises:
            TaskNotFound, TaskFinished, StepNotFound, StepNotWaiting (also when
            ``expected_revision`` is stale), InputInvalid. Nothing is written then.
        """
        artifact = self._encode(step, 0, 1, value)
        with self.store.transaction() as tx:
            state = tx.lock_task(task_id)
            if expected_revision is not None and expected_revision != state.revision:
                raise core_stale(state, expected_revision)
            attempt = state.steps[step].attempt if step in state.steps else 0
            artifact = _with_attempt(
                artifact, attempt or 1, state.steps[step].generation if step in state.steps else 1
            )
            command = core.SubmitInput(step=step, input=value, actor=actor, artifact=_ref(artifact))
            transition = self._apply(tx, state, command, extra_outputs={step: value})
            tx.put_artifact(task_id, artifact, self._now_iso())
        return transition.state

    def cancel(
        self, task_id: str, *, actor: str | None = None, reason: str | None = None
    ) -> TaskState:
        """Cancel a task that has not finished."""
        return self._command(task_id, core.Cancel(actor=actor, reason=reason))

    def retry(self, task_id: str, *, actor: str | None = None) -> TaskState:
        """Resume a FAILED task from its failed steps."""
        return self._command(task_id, core.Retry(actor=actor))

    def _command(self, task_id: str, command: Command) -> TaskState:
        with self.store.transaction() as tx:
            state = tx.lock_task(task_id)
            return self._apply(tx, state, command).state

    # -- the worker side ---------------------------------------------------------------

    def claim(self, owner: str, *, limit: int = 1, lease_s: float = DEFAULT_LEASE_S) -> list[Job]:
        """Take due step runs and mark their steps RUNNING, in one transaction."""
        now = self.clock.now()
        jobs = []
        with self.store.transaction() as tx:
            for claim in tx.claim(owner, epoch_ms(now), int(lease_s * 1000), limit):
                state = tx.lock_task(claim.task_id)
                step = state.steps.get(claim.step)
                if (
                    state.status.terminal
                    or step is None
                    or step.attempt != claim.attempt
                    or step.status is not core.StepStatus.READY
                ):
                    tx.finish_run(claim, "discarded", epoch_ms(now), None)
                    continue
                self._apply(
                    tx, state, core.ClaimStep(step=claim.step, attempt=claim.attempt, worker=owner)
                )
                compiled = self._compiled(state.pipeline, state.version)
                upstream = tx.outputs(claim.task_id, sorted(compiled.ancestors[claim.step]))
                inputs = {
                    k: v
                    for k, v in upstream.items()
                    if compiled.spec.step(k).kind.value == "wait_user"
                }
                jobs.append(
                    Job(
                        claim=claim,
                        spec=compiled.spec,
                        config=state.config,
                        artifacts=upstream,
                        inputs=inputs,
                    )
                )
        return jobs

    def complete(self, job: Job, output: JSONValue) -> TaskState | None:
        """Record a handler's output as the step's artifact and go on.

        Returns None when the run's lease was lost (the output is discarded).
        """
        state_step = job.claim
        try:
            artifact = self._encode(state_step.step, state_step.attempt, 1, output)
        except ArtifactTooLarge as exc:
            return self.fail(job, exc, permanent=True)
        except (TypeError, ValueError) as exc:
            return self.fail(job, UserError(f"the output is not JSON: {exc}"), permanent=True)
        now = self.clock.now()
        with self.store.transaction() as tx:
            if not tx.finish_run(job.claim, "completed", epoch_ms(now), None):
                return None
            state = tx.lock_task(job.claim.task_id)
            artifact = _with_attempt(artifact, job.claim.attempt, state.steps[job.step].generation)
            command = core.CompleteStep(
                step=job.step, attempt=job.claim.attempt, artifact=_ref(artifact)
            )
            transition = self._apply(tx, state, command, extra_outputs={job.step: output})
            tx.put_artifact(job.claim.task_id, artifact, isoformat(now) or "")
        return transition.state

    def fail(self, job: Job, error: BaseException, *, permanent: bool = False) -> TaskState | None:
        """Record a failed attempt; the retry policy decides what happens next."""
        now = self.clock.now()
        message = str(error) or type(error).__name__
        if isinstance(error, LeaseLost):
            return None
        with self.store.transaction() as tx:
            if not tx.finish_run(
                job.claim,
                "failed",
                epoch_ms(now),
                dumps({"type": type(error).__name__, "message": message}),
            ):
                return None
            state = tx.lock_task(job.claim.task_id)
            command = core.FailStep(
                step=job.step,
                attempt=job.claim.attempt,
                error_type=type(error).__name__,
                message=message[:2000],
                permanent=permanent,
                jitter_sample=self._random.random(),
            )
            return self._apply(tx, state, command).state

    def expire_leases(self, *, limit: int = 100) -> int:
        """Re-queue runs whose worker stopped renewing its lease; returns how many."""
        now = self.clock.now()
        count = 0
        with self.store.transaction() as tx:
            for run in tx.expired(epoch_ms(now), limit):
                tx.close_runs(run.task_id, run.step, "expired", epoch_ms(now))
                state = tx.lock_task(run.task_id)
                step = state.steps.get(run.step)
                if state.status.terminal or step is None or step.attempt != run.attempt:
                    continue
                self._apply(tx, state, core.ExpireLease(step=run.step, attempt=run.attempt))
                count += 1
        return count

    def seconds_until_due(self) -> float | None:
        """How long until the next queued run may start (None: nothing queued)."""
        due = self.store.next_due_ms()
        if due is None:
            return None
        return max(0.0, (due - epoch_ms(self.clock.now())) / 1000)

    # -- the one place a transition is written -----------------------------------------

    def _apply(
        self,
        tx: Tx,
        state: TaskState,
        command: Command,
        extra_outputs: Mapping[str, JSONValue] | None = None,
    ) -> Transition:
        compiled = self._compiled(state.pipeline, state.version)
        outputs: dict[str, JSONValue] = {}
        wanted = sorted(compiled.expression_steps - set(extra_outputs or ()))
        if wanted:
            outputs = tx.outputs(state.id, wanted)
        outputs.update(extra_outputs or {})
        transition = core.advance(compiled.spec, state, command, self.clock.now(), outputs)
        tx.save_task(state.revision, transition.state, transition.events)
        self._effects(tx, transition)
        return transition

    def _effects(self, tx: Tx, transition: Transition) -> None:
        """Turn events into step-run rows: queue new attempts, close cancelled ones."""
        state = transition.state
        now_ms = epoch_ms(self.clock.now())
        for event in transition.events:
            if event.type is EventType.STEP_QUEUED and event.step and event.attempt:
                not_before = event.data.get("not_before")
                moment = parse_iso(not_before) if isinstance(not_before, str) else None
                due = epoch_ms(moment) if moment else now_ms
                generation = state.steps[event.step].generation
                tx.queue_run(
                    state.id,
                    event.step,
                    event.attempt,
                    f"{state.id}/{event.step}/{generation}",
                    due,
                )
            elif event.type is EventType.STEP_CANCELLED and event.step:
                tx.close_runs(state.id, event.step, "cancelled", now_ms)

    def _encode(self, step: str, attempt: int, generation: int, value: JSONValue) -> NewArtifact:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        data = text.encode("utf-8")
        size = len(data)
        if size > self.max_artifact_bytes:
            raise ArtifactTooLarge(
                f"The output of step '{step}' is {size} bytes, over the limit of "
                f"{self.max_artifact_bytes} bytes.",
                step=step,
                size=size,
                limit=self.max_artifact_bytes,
            )
        if size > self.inline_limit_bytes:
            digest = self.store.blobs.put(data)  # type: ignore[attr-defined]
            return NewArtifact(
                step=step,
                attempt=attempt,
                generation=generation,
                kind="blob",
                value_text=None,
                sha256=digest,
                size=size,
            )
        return NewArtifact(
            step=step,
            attempt=attempt,
            generation=generation,
            kind="json",
            value_text=text,
            sha256=hashlib.sha256(data).hexdigest(),
            size=size,
        )

    def _now_iso(self) -> str:
        return isoformat(self.clock.now()) or ""


def _with_attempt(artifact: NewArtifact, attempt: int, generation: int) -> NewArtifact:
    return replace(artifact, attempt=attempt, generation=generation)


def _ref(artifact: NewArtifact) -> JSONObject:
    return {"kind": artifact.kind, "sha256": artifact.sha256, "size": artifact.size}


def core_stale(state: TaskState, expected: int) -> UserError:
    """The error for a compare-and-set on a revision that has moved on."""
    return RevisionMismatch(
        f"Task {state.id} is at revision {state.revision}, not {expected}; fetch it again.",
        task_id=state.id,
        revision=state.revision,
        expected_revision=expected,
    )


def apply_config_defaults(schema: JSONObject, config: dict[str, Any]) -> dict[str, Any]:
    """Fill in top-level ``default`` values the schema declares for absent keys."""
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name, sub in properties.items():
            if name not in config and isinstance(sub, dict) and "default" in sub:
                config[name] = json.loads(json.dumps(sub["default"]))
    return config


def read_definition(path: str | Path) -> str:
    """Read a definition file as UTF-8 text.

    Raises:
        PipelineInvalid: the file cannot be read or is not UTF-8.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise PipelineInvalid(
            [Problem(message=f"cannot read the file: {exc.strerror}", file=str(p))]
        ) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PipelineInvalid(
            [Problem(message=f"the file is not UTF-8 text (byte {exc.start})", file=str(p))]
        ) from exc


__all__ = ["Job", "Service"]
