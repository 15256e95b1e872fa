"""The store contract: what every backend offers the service, and nothing more.

Rules live in :mod:`segue.core`; a store only keeps rows, claims runs
atomically and answers queries. All writes of one use case happen inside one
:meth:`Store.transaction`. A store raises only :mod:`segue.errors` classes:
driver exceptions are translated at the adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol, TypeVar

from segue.core.task import Event, TaskState
from segue.types import JSONValue, record

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineRecord:
    """A registered pipeline version."""

    name: str
    version: int
    content_hash: str
    source: str
    """The definition as canonical JSON text."""
    created_at: str


@record(kw_only=True)
class RunClaim:
    """A step run this worker now holds, until its lease expires."""

    task_id: str
    step: str
    attempt: int
    token: str
    idempotency_key: str


@record(kw_only=True)
class ExpiredRun:
    """A running step run whose lease has run out."""

    task_id: str
    step: str
    attempt: int


@record(kw_only=True)
class Artifact:
    """The recorded output of one step run (JSON inline, or a blob)."""

    task_id: str
    step: str
    attempt: int
    generation: int
    current: bool
    kind: str
    """``json`` (inline) or ``blob`` (in the blob store, by sha256)."""
    value: JSONValue
    """The JSON value (inline) or None (blob: read it with the blob store)."""
    sha256: str
    size: int
    content_type: str
    created_at: str
    meta: dict[str, JSONValue] | None = None
    """For a wait step: the prefill offered and the JSON Patch from it to the input."""

    def listing(self) -> dict[str, JSONValue]:
        """The reference plus generation, currency, time, inline value and meta."""
        return {
            **self.ref(),
            "generation": self.generation,
            "current": self.current,
            "created_at": self.created_at,
            "value": self.value,
            "meta": self.meta,
        }

    def ref(self) -> dict[str, JSONValue]:
        """A small reference to the artifact (no payload)."""
        return {
            "step": self.step,
            "attempt": self.attempt,
            "kind": self.kind,
            "sha256": self.sha256,
            "size": self.size,
            "content_type": self.content_type,
        }


@record(kw_only=True)
class NewArtifact:
    """An artifact to write: inline JSON text, or a blob already in the blob store."""

    step: str
    attempt: int
    generation: int
    kind: str
    value_text: str | None
    sha256: str
    size: int
    content_type: str = "application/json"
    meta_text: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskPage:
    """One page of a task listing, newest first."""

    tasks: list[TaskState]
    next_cursor: str | None


class Tx(Protocol):
    """The writes and locked reads of one transaction."""

    def insert_task(self, state: TaskState, events: Sequence[Event]) -> None:
        """Insert a new task's state row and its first events."""

    def latest_version(self, name: str) -> int | None:
        """The highest registered version of ``name`` (None when there is none)."""

    def lock_tasks(self, task_ids: Sequence[str]) -> None:
        """Lock several tasks at once, ahead of :meth:`lock_task` on each (an optimisation:
        one round trip, and a fixed order)."""  # noqa: D205,D209

    def lock_task(self, task_id: str) -> TaskState:
        """Read a task's state, locked against other writers until commit.

        Raises:
            TaskNotFound: no such task.
        """

    def save_task(self, previous_revision: int, state: TaskState, events: Sequence[Event]) -> None:
        """Write the new state row and append its events."""

    @property
    def written(self) -> Mapping[str, TaskState]:
        """The states this transaction wrote, by task id (what its commit changes)."""

    def queue_run(
        self, task_id: str, step: str, attempt: int, idempotency_key: str, not_before_ms: int
    ) -> None:
        """Make an attempt claimable from ``not_before_ms`` on."""

    def claim(
        self, owner: str, now_ms: int, lease_ms: int, limit: int, task_id: str | None = None
    ) -> list[RunClaim]:
        """Atomically take up to ``limit`` queued runs that are due (of ``task_id`` only, if
        given)."""  # noqa: D205,D209

    def running_count(self, pipeline: str, step: str | None, now_ms: int) -> int:
        """Runs of ``step`` (None: of any step) in tasks of ``pipeline`` holding a live lease."""

    def unclaim(self, claim: RunClaim, not_before_ms: int) -> None:
        """Put a just-claimed run back in the queue, due again at ``not_before_ms``."""

    def expired(self, now_ms: int, limit: int) -> list[ExpiredRun]:
        """Running runs whose lease ran out before ``now_ms``."""

    def finish_run(self, claim: RunClaim, status: str, now_ms: int, error: str | None) -> bool:
        """Close a run held under ``claim``; False when the lease token no longer matches."""

    def close_runs(self, task_id: str, step: str, status: str, now_ms: int) -> None:
        """Close every open run of a step (cancel, lease expiry) without a token."""

    def put_artifact(self, task_id: str, artifact: NewArtifact, created_at: str) -> None:
        """Record a step run's output as the step's current artifact."""

    def rename_step(self, task_id: str, old: str, new: str) -> None:
        """A migration renamed a step: its runs and artifacts follow it."""

    def retire_artifacts(self, task_id: str, step: str) -> None:
        """The step has no current artifact any more (its older ones stay, by attempt)."""

    def outputs(self, task_id: str, steps: Sequence[str]) -> dict[str, JSONValue]:
        """Current artifact values of ``steps`` (blobs are read back)."""

    def outputs_of(self, wanted: Mapping[str, Sequence[str]]) -> dict[str, dict[str, JSONValue]]:
        """:meth:`outputs` of several tasks (task id: steps) at once."""

    def idempotent_response(self, scope: str, key: str) -> tuple[str, str] | None:
        """The (request hash, response) stored for a key, if any."""

    def forget_responses(self, before: str) -> None:
        """Drop remembered responses created before ``before`` (ISO time)."""

    def remember_response(
        self, scope: str, key: str, request_hash: str, response: str, created_at: str
    ) -> None:
        """Store the response given for an idempotency key."""


class Store(Protocol):
    """A durable home for pipelines, tasks, events, step runs and artifacts."""

    url: str

    def transaction(self) -> AbstractContextManager[Tx]:
        """One atomic unit of work: everything inside commits together or not at all."""

    def optimistic(self, body: Callable[[Tx], T]) -> tuple[T, Mapping[str, TaskState]]:
        """Run ``body(tx)`` as one transaction; returns its result and the states it wrote.

        The store may run ``body`` twice (once speculatively, outside its write lock), so
        ``body`` acts only through ``tx``.
        """

    def register_pipeline(self, record: PipelineRecord) -> bool:
        """Store a pipeline version; False if the same content was already there.

        Raises:
            VersionConflict: the version exists with different content.
        """

    def latest_version(self, name: str) -> int | None:
        """The highest registered version of ``name`` (None when there is none); cheap."""

    def get_pipeline(self, name: str, version: int | None = None) -> PipelineRecord:
        """The named version, or the latest one.

        Raises:
            PipelineNotFound: no such pipeline or version.
        """

    def list_pipelines(self) -> list[PipelineRecord]:
        """Every registered pipeline version, by name then version."""

    def get_task(self, task_id: str) -> TaskState:
        """A task's current state (one row read, whatever the history length).

        Raises:
            TaskNotFound: no such task.
        """

    def list_tasks(
        self,
        *,
        status: str | None = None,
        pipeline: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        id_prefix: str | None = None,
    ) -> TaskPage:
        """Tasks newest first, a page at a time (keyset pagination on the id).

        ``id_prefix`` keeps only the tasks whose id starts with it.
        """

    def count_tasks(self, *, pipeline: str | None = None) -> dict[tuple[str, str], int]:
        """How many tasks there are per ``(pipeline, status)`` (of one pipeline if named)."""

    def events(self, task_id: str, after: int = 0, limit: int | None = None) -> list[Event]:
        """A task's events with ``seq > after``, in order."""

    def artifacts(
        self, task_id: str, step: str | None = None, *, current_only: bool = True
    ) -> list[Artifact]:
        """A task's artifacts (current ones unless ``current_only`` is False)."""

    def task_status(self, task_id: str) -> str:
        """Just a task's status (cheaper than :meth:`get_task`).

        Raises:
            TaskNotFound: no such task.
        """

    def next_due_ms(self) -> int | None:
        """When the earliest queued run becomes due (None: nothing queued)."""

    def renew_leases(self, owner: str, tokens: Sequence[str], until_ms: int) -> set[str]:
        """Extend the leases this owner still holds; returns the tokens renewed
        (a missing one was cancelled, superseded or taken over)."""  # noqa: D205,D209

    def release_leases(self, owner: str) -> int:
        """Let every lease ``owner`` holds run out now; returns how many."""

    def put_blob(self, data: bytes) -> str:
        """Store bytes durably (fsynced) and return their sha256; idempotent."""

    def read_blob(self, sha256: str) -> bytes:
        """The bytes of a blob; :class:`FileNotFoundError` when there is none."""

    def close(self) -> None:
        """Release connections."""


def iter_chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """Split a long IN list into chunks the database accepts."""
    for i in range(0, len(items), size):
        yield items[i : i + size]
