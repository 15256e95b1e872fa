"""The Python API: ``Segue(database_url=..., pipelines=...)``."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from segue.core.states import TaskStatus
from segue.core.task import Event
from segue.core.view import TaskView
from segue.runtime.handlers import HandlerRegistry
from segue.runtime.worker import Worker
from segue.service import Service
from segue.settings import DEFAULT_DATABASE_URL, Settings
from segue.spec import PipelineSpec
from segue.store import Artifact, open_store
from segue.types import JSONValue


class Segue:
    """An embedded Segue engine over one database.

    Args:
        database_url: ``sqlite:///path.db`` (default ``sqlite:///./segue.db``) or
            ``postgresql://user@host/db``.
        pipelines: Definition files or folders to register now.
        blob_dir: Where large artifacts go (default beside the database).
        handlers: Extra ``{reference: callable}`` handlers, resolved before imports.
        sqlite_synchronous: ``FULL`` (default), ``EXTRA``, or ``NORMAL`` (needs ``allow_unsafe``).
        allow_unsafe: Open a database whose durability is off (logged loudly) instead of
            refusing it.
        pool_size: PostgreSQL connections this engine keeps (default 8).
    """

    def __init__(
        self,
        database_url: str = DEFAULT_DATABASE_URL,
        *,
        pipelines: Iterable[str | os.PathLike[str]] = (),
        blob_dir: str | os.PathLike[str] | None = None,
        handlers: Mapping[str, Callable[..., Any]] | None = None,
        sqlite_synchronous: str = "FULL",
        allow_unsafe: bool = False,
        pool_size: int | None = None,
    ) -> None:
        registry = HandlerRegistry()
        for ref, fn in (handlers or {}).items():
            registry.register(ref, fn)
        self.store = open_store(
            database_url,
            blob_dir=blob_dir,
            sqlite_synchronous=sqlite_synchronous,
            allow_unsafe=allow_unsafe,
            pool_size=pool_size,
        )
        self.service = Service(self.store, handlers=registry)
        for path in pipelines:
            self.service.register_path(Path(path))
        self._worker: Worker | None = None
        self._drive_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Segue:
        """An engine configured by :class:`Settings`."""
        return cls(
            settings.database_url,
            pipelines=settings.pipelines,
            blob_dir=settings.blob_dir,
            sqlite_synchronous=settings.sqlite_synchronous,
            allow_unsafe=settings.allow_unsafe,
            pool_size=settings.db_pool_size,
        )

    def register(self, text: str, filename: str | None = None) -> PipelineSpec:
        """Register a definition given as YAML or JSON text."""
        return self.service.register(text, filename)[0]

    def start(
        self,
        pipeline: str,
        config: Mapping[str, Any] | None = None,
        *,
        version: int | None = None,
        run: bool = True,
    ) -> TaskView:
        """Start a task and (unless ``run=False``) drive it until it waits or ends."""
        view = self.service.start(pipeline, config, version=version)
        return self.drive(view["id"]) if run else view

    def get(self, task_id: str) -> TaskView:
        """The task view."""
        return self.service.view(task_id)

    def advance(self, task_id: str, step: str, value: JSONValue, *, run: bool = True) -> TaskView:
        """Submit input for a waiting step, then drive the task on."""
        view = self.service.advance(task_id, step, value)
        return self.drive(task_id) if run else view

    def events(self, task_id: str) -> list[Event]:
        """The task's event log."""
        return self.service.events(task_id)

    def artifacts(self, task_id: str) -> dict[str, JSONValue]:
        """Current artifact values by step (blob artifacts read back as JSON)."""
        return self.service.artifact_values(task_id)

    def artifact_value(self, artifact: Artifact) -> JSONValue:
        """An artifact's JSON value, reading the blob store when needed."""
        return self.service.artifact_value(artifact)

    def drive(self, task_id: str) -> TaskView:
        """Run the task's auto steps in this thread until it waits for a person or ends."""

        def settled() -> bool:
            status = self.service.status(task_id)
            return status.terminal or status is TaskStatus.WAITING_USER

        with self._drive_lock:
            if not settled():
                if self._worker is None:
                    self._worker = Worker(self.service)
                self._worker.drain(until=settled, task_id=task_id)
            elif self._worker is not None:
                self._worker.report_late()  # results of timed-out runs that came back since
        return self.get(task_id)

    def release(self) -> int:
        """Give back the leases of steps this engine is running (before a hard stop)."""
        return self._worker.release() if self._worker is not None else 0

    def close(self) -> None:
        """Stop the in-process worker and release the database."""
        if self._worker is not None:
            self._worker.close()
            self._worker = None
        self.store.close()

    def __enter__(self) -> Segue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
