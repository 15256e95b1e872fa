"""What a handler receives: the step context."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from segue.types import JSONObject, JSONValue


class Blobs(Protocol):
    """Content-addressed file storage a handler may use for bytes too big for JSON."""

    def put_blob(self, data: bytes) -> str:
        """Store ``data`` durably; returns its sha256."""

    def read_blob(self, sha256: str) -> bytes:
        """Read stored bytes back; :class:`FileNotFoundError` if there are none."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepContext:
    """Everything a handler may use to do its step's work.

    Attributes:
        task_id: The task's id.
        step: The step's id.
        attempt: 1 for the first try, 2 for the first retry, …
        config: The task's parameters (validated, defaults applied).
        params: The step's literal ``with`` mapping.
        artifacts: Current outputs of every upstream step, by step id.
        inputs: What people submitted at upstream wait steps, by step id.
        idempotency_key: The same for every attempt and crash re-run of this
            step run; different after an operator reruns the step. Pass it to
            external services so an effect happens once.
        pipeline: Name of the pipeline.
        version: Version of the pipeline the task runs.
        depends_on: The step's direct dependencies (``artifacts`` holds every ancestor).
        cancelled: Set when the run should stop: the task was cancelled, the
            step rerun or timed out, or another worker took the run over. Its
            result will be discarded; a long handler should check it (or
            ``cancelled.wait(seconds)`` instead of sleeping) and return early.
        blobs: The engine's blob store: put bytes there (an uploaded file, a
            vector matrix) and return their sha256 in the artifact. A blob is
            written before the step's completion commits, so a committed
            artifact never points at a missing blob.
    """

    task_id: str
    step: str
    attempt: int
    config: JSONObject
    params: JSONObject
    artifacts: Mapping[str, JSONValue]
    inputs: Mapping[str, JSONValue]
    idempotency_key: str
    pipeline: str
    version: int
    depends_on: tuple[str, ...] = ()
    blobs: Blobs | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    log: Any = field(default=None)

    def put_blob(self, data: bytes) -> str:
        """Store bytes in the engine's blob store; returns their sha256."""
        return self._blobs().put_blob(data)

    def read_blob(self, sha256: str) -> bytes:
        """Bytes stored under ``sha256``; :class:`FileNotFoundError` if none."""
        return self._blobs().read_blob(sha256)

    def _blobs(self) -> Blobs:
        if self.blobs is None:
            raise RuntimeError("this step context has no blob store")
        return self.blobs

    @property
    def logger(self) -> Any:
        """A structlog logger bound to the task, step and attempt."""
        return self.log or structlog.get_logger("segue.handler").bind(
            task_id=self.task_id, step=self.step, attempt=self.attempt
        )
