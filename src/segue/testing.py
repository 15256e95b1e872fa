"""Public helpers for testing pipelines and handlers.

- :class:`FakeClock`: time that moves only when told to (or when a worker sleeps).
- :func:`memory_engine`: an in-memory SQLite engine — the real store, no files.
- :func:`drive`: run a task's auto steps until it waits for a person or ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from segue.app import Segue
from segue.core.states import TaskStatus
from segue.runtime.worker import Worker
from segue.service import Service


class FakeClock:
    """A clock for tests: frozen unless advanced; ``sleep`` advances it at once."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The fake current time."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        with self._lock:
            self._now += timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        """Move time forward instead of waiting."""
        self.advance(seconds)


def memory_engine(
    handlers: Mapping[str, Callable[..., Any]] | None = None, clock: FakeClock | None = None
) -> Segue:
    """A :class:`Segue` on an in-memory SQLite database (same code as the file store)."""
    engine = Segue("sqlite://", handlers=handlers)
    if clock is not None:
        engine.service.clock = clock
    return engine


def drive(service: Service, task_id: str, *, lease_s: float = 30.0) -> TaskStatus:
    """Run auto steps until the task waits for a person or ends; returns its status."""

    def settled() -> bool:
        status = service.status(task_id)
        return status.terminal or status is TaskStatus.WAITING_USER

    with Worker(service, lease_s=lease_s) as worker:
        worker.drain(until=settled, task_id=task_id)
    return service.get(task_id).status
