"""The core of the use cases: set-up, reads, start, advance, cancel and retry.

It also holds the transaction helpers the worker's and the operators' use
cases build on (see :mod:`segue.service`).

Each use case is one transaction: lock the task, run the pure core, write the
state row, the events, new step runs and artifacts together, commit. Workers
report a whole batch of finished step runs, and claim the next batch, in one
transaction (group commit): one fsync covers many transitions.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from segue import core
from segue.core.commands import Command
from segue.core.machine import Transition
from segue.core.schemas import violations
from segue.core.task import Event, EventType, TaskState
from segue.core.view import TaskView
from segue.encoding import (
    apply_config_defaults,
    artifact_ref,
    canonical_json,
    encode_artifact,
    input_meta,
    not_json,
    read_definition,
    where_not_json,
    why_not_json,
    with_patch,
)
from segue.errors import (
    ConfigInvalid,
    FileNotFound,
    IdempotencyConflict,
    InputInvalid,
    RevisionMismatch,
    Violation,
)
from segue.runtime.clock import Clock, SystemClock, epoch_ms
from segue.runtime.handlers import HandlerRegistry
from segue.spec import PipelineSpec, load_pipeline
from segue.spec.expr import compile_expression
from segue.spec.validate import ancestors_of
from segue.store.base import Artifact, NewArtifact, PipelineRecord, RunClaim, Store, TaskPage, Tx
from segue.types import JSONObject, JSONValue, isoformat, new_task_id, parse_iso, record

DEFAULT_INLINE_LIMIT_BYTES = 64 * 1024
"""Artifacts up to this size are kept inline in the database; larger ones as blobs."""
CONCURRENCY_BACKOFF_MS = 200
"""A run held back by its step's concurrency limit is due again this much later."""
DEFAULT_MAX_ARTIFACT_BYTES = 16 * 1024 * 1024
"""A step output over this size fails the step (permanently)."""
DEFAULT_LEASE_S = 30.0
DEFAULT_IDEMPOTENCY_TTL_S = 24 * 3600.0
"""How long an Idempotency-Key's first response is kept."""


@dataclass(frozen=True, slots=True)
class _Compiled:
    spec: PipelineSpec
    ancestors: Mapping[str, frozenset[str]]
    refs_after: Mapping[str, frozenset[str]]
    """Steps whose outputs the expressions downstream of a step read."""
    all_refs: frozenset[str]


@record(kw_only=True)
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


@record(kw_only=True)
class Outcome:
    """What running a job's handler gave: an output, or an error."""

    job: Job
    output: JSONValue = None
    error: BaseException | None = None
    permanent: bool = False


class _Unset:
    """The type of :data:`UNSET`: no value given (``None`` is a JSON value)."""


UNSET = _Unset()


@dataclass(frozen=True, slots=True)
class Idempotency:
    """An Idempotency-Key as the service sees it: who, which operation, and the request."""

    scope: str
    key: str
    request_hash: str


class _Stale(Exception):
    """A start saw a newer pipeline version inside its transaction (it starts again)."""

    def __init__(self, version: int | None) -> None:
        super().__init__(version)
        self.version = version


class ServiceCore:
    """Segue's use cases over one store."""

    def __init__(
        self,
        store: Store,
        *,
        handlers: HandlerRegistry | None = None,
        clock: Clock | None = None,
        inline_limit_bytes: int = DEFAULT_INLINE_LIMIT_BYTES,
        max_artifact_bytes: int = DEFAULT_MAX_ARTIFACT_BYTES,
        idempotency_ttl_s: float = DEFAULT_IDEMPOTENCY_TTL_S,
    ) -> None:
        self.store = store
        self.handlers = handlers or HandlerRegistry()
        self.clock = clock or SystemClock()
        self.inline_limit_bytes = inline_limit_bytes
        self.max_artifact_bytes = max_artifact_bytes
        self.idempotency_ttl_s = idempotency_ttl_s
        self._specs: dict[tuple[str, int], _Compiled] = {}
        self._latest: dict[str, int] = {}
        """The latest version of each pipeline, as this process last saw it."""
        self._lock = threading.Lock()
        self._random = random.Random()
        self._listeners: list[Callable[[], object]] = []
        self._task_listeners: list[Callable[[frozenset[str]], object]] = []
        self._subscribed = False
        self._last_purge_ms = 0

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
                source=canonical_json(spec.source),
                created_at=self._now_iso(),
            )
        )
        return spec, created

    def register_path(self, path: str | Path) -> list[tuple[PipelineSpec, bool]]:
        """Register one definition file, or every ``*.yaml``/``*.yml``/``*.json`` in a folder."""
        root = Path(path)
        suffixes = (".yaml", ".yml", ".json")
        files = (
            sorted(p for p in root.iterdir() if p.suffix in suffixes) if root.is_dir() else [root]
        )
        texts = [(read_definition(f), str(f)) for f in files]
        for text, name in texts:  # all or nothing: every file loads before one is registered
            self.load(text, name)
        return [self.register(text, name) for text, name in texts]

    def spec(self, name: str, version: int | None = None) -> PipelineSpec:
        """A registered pipeline version (the latest when ``version`` is None)."""
        return self._compiled(name, version).spec

    def pipelines(self) -> list[PipelineRecord]:
        """Every registered pipeline version."""
        return self.store.list_pipelines()

    def _config(self, compiled: _Compiled, config: Mapping[str, Any] | None) -> dict[str, Any]:
        """A start's config with the schema's defaults filled in.

        Raises:
            ConfigInvalid: it is not JSON, or does not fit the config schema.
        """
        pipeline = compiled.spec.name
        why = "it is not an object" if not isinstance(config, Mapping | None) else not_json(config)
        if why is not None:
            raise ConfigInvalid(
                f"The config for {pipeline} is not valid JSON: {why}.",
                [Violation(where_not_json(config), f"not JSON: {why}")],
            )
        values = apply_config_defaults(compiled.spec.config_schema, dict(config or {}))
        found = violations(compiled.spec.config_schema, values)
        if found:
            listed = "; ".join(f"{v.pointer or '/'}: {v.message}" for v in found[:5])
            raise ConfigInvalid(f"The config for {pipeline} is invalid: {listed}.", found)
        return values

    def _compiled(self, name: str, version: int | None) -> _Compiled:
        if version is None:  # the latest, which another process may have registered
            version = self.store.latest_version(name)
        if version is not None and (name, version) in self._specs:
            return self._specs[(name, version)]
        record = self.store.get_pipeline(name, version)
        key = (record.name, record.version)
        with self._lock:
            if key not in self._specs:
                # Registered versions are immutable: load once, without re-checking handlers.
                self._specs[key] = _compile(load_pipeline(record.source, f"{name}@{key[1]}"))
            return self._specs[key]

    # -- reads -------------------------------------------------------------------------

    def get(self, task_id: str) -> TaskState:
        """A task's current state."""
        return self.store.get_task(task_id)

    def status(self, task_id: str) -> core.TaskStatus:
        """Just a task's status (one column read)."""
        return core.TaskStatus(self.store.task_status(task_id))

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
        id_prefix: str | None = None,
    ) -> TaskPage:
        """Tasks, newest first (only ids starting with ``id_prefix`` when given)."""
        return self.store.list_tasks(
            status=status, pipeline=pipeline, limit=limit, cursor=cursor, id_prefix=id_prefix
        )

    def count_tasks(self, *, pipeline: str | None = None) -> dict[tuple[str, str], int]:
        """How many tasks there are per ``(pipeline, status)``."""
        return self.store.count_tasks(pipeline=pipeline)

    def events(self, task_id: str, after: int = 0, limit: int | None = None) -> list[Event]:
        """A task's event log (TaskNotFound for an unknown id)."""
        self.store.task_status(task_id)
        return self.store.events(task_id, after, limit)

    def artifacts(
        self, task_id: str, step: str | None = None, *, current_only: bool = True
    ) -> list[Artifact]:
        """A task's artifacts (TaskNotFound for an unknown id)."""
        self.store.task_status(task_id)
        found = self.store.artifacts(task_id, step, current_only=current_only)
        return [replace(a, meta=with_patch(a.meta, a.value)) if a.meta else a for a in found]

    def artifact_value(self, artifact: Artifact) -> JSONValue:
        """An artifact's JSON value, reading the blob store when it lives there."""
        if artifact.kind == "json":
            return artifact.value
        return json.loads(self.store.read_blob(artifact.sha256))  # type: ignore[no-any-return]

    def artifact_values(self, task_id: str) -> dict[str, JSONValue]:
        """Current artifact values by step (TaskNotFound for an unknown id)."""
        return {a.step: self.artifact_value(a) for a in self.artifacts(task_id)}

    def put_file(self, data: bytes) -> str:
        """Store an uploaded file durably; returns its sha256 (the same bytes, the same key)."""
        return self.store.put_blob(data)

    def read_file(self, sha256: str) -> bytes:
        """An uploaded file or blob artifact's bytes (FileNotFound if there is none)."""
        try:
            return self.store.read_blob(sha256)
        except (FileNotFoundError, ValueError) as exc:
            raise FileNotFound(f"No file has sha256 {sha256!r}.") from exc

    # -- commands ----------------------------------------------------------------------

    def start(
        self,
        pipeline: str,
        config: Mapping[str, Any] | None = None,
        *,
        version: int | None = None,
        actor: str | None = None,
        idempotency: Idempotency | None = None,
    ) -> TaskView:
        """Start a task of a registered pipeline (its latest version unless named).

        Raises:
            PipelineNotFound, ConfigInvalid, IdempotencyConflict.
        """
        # The latest version this process knows, checked again inside the transaction:
        # versions only grow, so this ends.
        known = version or self._latest.get(pipeline)
        while True:
            compiled = self._compiled(pipeline, known)
            try:
                values = self._config(compiled, config)
            except ConfigInvalid:
                if version is not None or known is None:
                    raise
                known = None  # it may fit a version registered since
                continue
            body = partial(
                self._start,
                compiled=compiled,
                values=values,
                pinned=version is not None,
                actor=actor,
                idempotency=idempotency,
            )
            try:
                (view, started), written = self.store.optimistic(body)
            except _Stale as stale:
                known = stale.version
                continue
            if not started:
                return view
            if version is None:
                self._latest[pipeline] = compiled.spec.version
            self._notify(written)
            return view

    def _start(
        self,
        tx: Tx,
        *,
        compiled: _Compiled,
        values: dict[str, Any],
        pinned: bool,
        actor: str | None,
        idempotency: Idempotency | None,
    ) -> tuple[TaskView, bool]:
        """Start's transaction: the view, and whether a task was started (not replayed)."""
        replayed = self._replay(tx, idempotency)
        if replayed is not None:
            return replayed, False
        spec = compiled.spec
        latest = spec.version if pinned else tx.latest_version(spec.name)
        if latest != spec.version:
            raise _Stale(latest)  # another process registered a newer one
        transition = core.start(spec, new_task_id(), values, self.clock.now(), actor=actor)
        tx.insert_task(transition.state, transition.events)
        self._effects(tx, transition)
        view = core.task_view(spec, transition.state)
        self._remember(tx, idempotency, view)
        return view, True

    def advance(
        self,
        task_id: str,
        step: str,
        value: JSONValue,
        *,
        actor: str | None = None,
        expected_revision: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> TaskView:
        """Submit a person's input for a waiting step, then let the task go on.

        Raises:
            TaskNotFound, TaskFinished, StepNotFound, StepNotWaiting, InputInvalid,
            RevisionMismatch, IdempotencyConflict, ArtifactTooLarge. Nothing is written then.
        """
        encoded = self._encode_input(step, value)

        def body(tx: Tx) -> tuple[TaskView, bool]:
            replayed = self._replay(tx, idempotency)
            if replayed is not None:
                return replayed, False
            state = tx.lock_task(task_id)
            if expected_revision is not None and expected_revision != state.revision:
                raise RevisionMismatch(
                    f"Task {task_id} is at revision {state.revision}, not {expected_revision}; "
                    "fetch it again.",
                    task_id=task_id,
                    revision=state.revision,
                )
            current = state.steps.get(step)
            artifact = replace(
                encoded,
                attempt=max(current.attempt, 1) if current else 1,
                generation=current.generation if current else 1,
                meta_text=self._answer_meta(current.prefill if current else None, encoded, value),
            )
            command = core.SubmitInput(
                step=step, input=value, actor=actor, artifact=artifact_ref(artifact)
            )
            transition = self._apply(tx, state, command, {step: value})
            tx.put_artifact(task_id, artifact, self._now_iso())
            view = self.view_of(transition.state)
            self._remember(tx, idempotency, view)
            return view, True

        (view, changed), written = self.store.optimistic(body)
        if changed:
            self._notify(written)
        return view

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
            state = self._apply(tx, tx.lock_task(task_id), command).state
        self._notify(tx.written)
        return state

    # -- the worker side ---------------------------------------------------------------

    def on_change(self, listener: Callable[[], object]) -> None:
        """Call ``listener()`` after every committed command (wakes in-process workers), and
        when another process commits new work, where the store can tell (PostgreSQL)."""  # noqa: D205,D209
        self._listeners.append(listener)
        if not self._subscribed:
            self._subscribed = True
            subscribe = getattr(self.store, "subscribe", None)
            if subscribe is not None:
                subscribe(self._notify)

    def off_change(self, listener: Callable[[], object]) -> None:
        """Stop calling ``listener``."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def on_task_change(self, listener: Callable[[frozenset[str]], object]) -> None:
        """Call ``listener(task_ids)`` after each start, answer, worker report and operator
        command this process commits, with the ids of the tasks it changed (claims are
        not announced). It runs in the committing thread: keep it short. Lets a waiter
        wake only for its own tasks; other processes' changes are not seen here."""  # noqa: D205,D209
        self._task_listeners.append(listener)

    def off_task_change(self, listener: Callable[[frozenset[str]], object]) -> None:
        """Stop calling ``listener``."""
        if listener in self._task_listeners:
            self._task_listeners.remove(listener)

    # -- internals ---------------------------------------------------------------------

    def _apply(
        self,
        tx: Tx,
        state: TaskState,
        command: Command,
        extra: Mapping[str, JSONValue] | None = None,
    ) -> Transition:
        transition = self._transition(state, command, tx, extra or {})
        self._write(tx, state, transition)
        return transition

    def _transition(
        self, state: TaskState, command: Command, tx: Tx, extra: Mapping[str, JSONValue]
    ) -> Transition:
        """Run the core, reading only the outputs that expressions can need now."""
        compiled = self._compiled(state.pipeline, state.version)
        if isinstance(command, core.CompleteStep | core.SubmitInput):
            wanted = compiled.refs_after.get(command.step, frozenset())
        elif isinstance(command, core.Retry | core.Rerun | core.Skip):
            wanted = compiled.all_refs
        else:
            wanted = frozenset()
        done = core.StepStatus.COMPLETED
        # Expressions see only the outputs of completed steps: no other step has one to read.
        needed = sorted(
            s
            for s in wanted
            if s not in extra and (step := state.steps.get(s)) is not None and step.status is done
        )
        outputs = tx.outputs(state.id, needed) if needed else {}
        outputs.update(extra)
        return core.advance(compiled.spec, state, command, self.clock.now(), outputs)

    def _write(self, tx: Tx, before: TaskState, transition: Transition) -> None:
        tx.save_task(before.revision, transition.state, transition.events)
        self._effects(tx, transition)

    def _effects(self, tx: Tx, transition: Transition) -> None:
        """Turn events into step-run rows: queue new attempts, close cancelled ones."""
        state = transition.state
        now_ms = epoch_ms(self.clock.now())
        for event in transition.events:
            if event.type is EventType.STEP_QUEUED and event.step and event.attempt:
                not_before = event.data.get("not_before")
                moment = parse_iso(not_before) if isinstance(not_before, str) else None
                generation = state.steps[event.step].generation
                tx.queue_run(
                    state.id,
                    event.step,
                    event.attempt,
                    f"{state.id}/{event.step}/{generation}",
                    epoch_ms(moment) if moment else now_ms,
                )
            elif event.type is EventType.STEP_WAITING and event.step and event.attempt:
                self._queue_timer(tx, state, event.step, event.attempt, now_ms)
            elif event.type is EventType.INPUT_SUBMITTED and event.step:
                # Its timer, if it has one; a timer an older version left behind after a
                # migration fires later and is discarded.
                if self._wait_timeout(state, event.step) is not None:
                    tx.close_runs(state.id, event.step, "answered", now_ms)
            elif event.type is EventType.STEP_CANCELLED and event.step:
                tx.close_runs(state.id, event.step, "cancelled", now_ms)
            elif event.type is EventType.STEP_RERUN and event.step:
                tx.close_runs(state.id, event.step, "superseded", now_ms)
                tx.retire_artifacts(state.id, event.step)

    def _wait_timeout(self, state: TaskState, step: str) -> float | None:
        """The step's timeout in the task's version (a wait step's timer runs that long)."""
        return self._compiled(state.pipeline, state.version).spec.step(step).timeout_s

    def _queue_timer(self, tx: Tx, state: TaskState, step: str, attempt: int, now_ms: int) -> None:
        """A wait step with a timeout gets a durable timer: a run due when it expires."""
        timeout_s = self._wait_timeout(state, step)
        if timeout_s is not None:
            key = f"{state.id}/{step}/{state.steps[step].generation}"
            tx.queue_run(state.id, step, attempt, key, now_ms + int(timeout_s * 1000))

    def _replay(self, tx: Tx, idempotency: Idempotency | None) -> TaskView | None:
        if idempotency is None:
            return None
        found = tx.idempotent_response(idempotency.scope, idempotency.key)
        if found is None:
            return None
        request_hash, response = found
        if request_hash != idempotency.request_hash:
            raise IdempotencyConflict(
                f"Idempotency-Key '{idempotency.key}' was already used with a different "
                "request; use a new key for a new request.",
                key=idempotency.key,
            )
        return json.loads(response)  # type: ignore[no-any-return]

    def _remember(self, tx: Tx, idempotency: Idempotency | None, view: TaskView) -> None:
        if idempotency is None:
            return
        now = self.clock.now()
        tx.remember_response(
            idempotency.scope,
            idempotency.key,
            idempotency.request_hash,
            canonical_json(view),
            isoformat(now) or "",
        )
        if epoch_ms(now) - self._last_purge_ms > 60_000:
            self._last_purge_ms = epoch_ms(now)
            cutoff = now - timedelta(seconds=self.idempotency_ttl_s)
            tx.forget_responses(isoformat(cutoff) or "")

    def _answer_meta(
        self, prefill: JSONValue, artifact: NewArtifact, value: JSONValue
    ) -> str | None:
        """The stored meta of an answer to a wait step: the prefill it was offered. The
        patch from it to the answer is worked out when read (see ``with_patch``), except
        for a blob answer, whose value is not at hand then."""  # noqa: D205,D209
        if prefill is None:
            return None
        if artifact.kind == "json":
            return canonical_json({"prefill": prefill})
        return canonical_json(input_meta(prefill, value))

    def _encode_input(self, step: str, value: JSONValue) -> NewArtifact:
        """Encode a person's input (encoding it is also the check that it is JSON at all).

        Raises:
            InputInvalid: it is not JSON (NaN, a lone surrogate, too deep, …).
            ArtifactTooLarge: it is over the limit.
        """
        try:
            return self._encode(step, value, what="input")
        except (TypeError, ValueError, RecursionError) as exc:
            deep = isinstance(exc, RecursionError)
            why = "it is nested too deeply" if deep else why_not_json(exc)
            raise InputInvalid(
                f"The input for step '{step}' is not valid JSON: {why}.",
                [Violation("" if deep else where_not_json(value), f"not JSON: {why}")],
                step=step,
            ) from None

    def _encode(self, step: str, value: JSONValue, what: str = "output") -> NewArtifact:
        return encode_artifact(
            step,
            value,
            what=what,
            inline_limit=self.inline_limit_bytes,
            max_size=self.max_artifact_bytes,
            put_blob=self.store.put_blob,
        )

    def _notify(self, task_ids: Collection[str] = ()) -> None:
        for listener in self._listeners:
            listener()
        if task_ids and self._task_listeners:
            changed = frozenset(task_ids)
            for task_listener in self._task_listeners:
                task_listener(changed)

    def _now_iso(self) -> str:
        return isoformat(self.clock.now()) or ""


def _compile(spec: PipelineSpec) -> _Compiled:
    """Precompute what the service needs per pipeline version."""
    ancestors = ancestors_of(spec)
    refs: dict[str, frozenset[str]] = {}
    for step in spec.steps:
        sources = [s for s in (step.when, step.prefill) if s]
        refs[step.id] = frozenset().union(*(compile_expression(s).steps for s in sources))
    descendants: dict[str, set[str]] = {s.id: set() for s in spec.steps}
    for step_id, ups in ancestors.items():
        for up in ups:
            descendants[up].add(step_id)
    refs_after = {s: frozenset().union(*(refs[d] for d in descendants[s])) for s in descendants}
    return _Compiled(spec, ancestors, refs_after, frozenset().union(*refs.values()))
