"""The use cases. Every entry point (CLI, Python API, HTTP, workers) goes through here.

Each use case is one transaction: lock the task, run the pure core, write the
state row, the events, new step runs and artifacts together, commit. Workers
report a whole batch of finished step runs, and claim the next batch, in one
transaction (group commit): one fsync covers many transitions.

The use cases live in three parts: :mod:`segue.service_core` (set-up, reads,
start, advance, cancel, retry), :mod:`segue.execution` (what workers call) and
:mod:`segue.control` (what operators call); :class:`Service` is all of them.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

import structlog

from segue.control import Controls
from segue.encoding import read_definition
from segue.errors import StoreBusy
from segue.execution import Execution
from segue.service_core import (
    CONCURRENCY_BACKOFF_MS,
    DEFAULT_IDEMPOTENCY_TTL_S,
    DEFAULT_INLINE_LIMIT_BYTES,
    DEFAULT_LEASE_S,
    DEFAULT_MAX_ARTIFACT_BYTES,
    UNSET,
    Idempotency,
    Job,
    Outcome,
)

__all__ = [
    "CONCURRENCY_BACKOFF_MS",
    "DEFAULT_IDEMPOTENCY_TTL_S",
    "DEFAULT_INLINE_LIMIT_BYTES",
    "DEFAULT_LEASE_S",
    "DEFAULT_MAX_ARTIFACT_BYTES",
    "UNSET",
    "Idempotency",
    "Job",
    "Outcome",
    "Service",
    "read_definition",
]

log = structlog.get_logger("segue.service")

RETRY_ATTEMPTS = 5
RETRY_FIRST_S = 0.05
"""The first wait before running a use case again; it doubles (with jitter) up to a second."""
RETRIED = (
    # every use case that opens a transaction or reads; a retry runs it again from the start
    *("register", "start", "advance", "cancel", "retry"),
    *("claim", "report", "expire_leases", "seconds_until_due"),
    *("fork", "migrate", "plan", "rerun", "skip", "control", "history", "state_at"),
    *("get", "status", "view", "list_tasks", "events", "artifacts", "artifact_values"),
    *("spec", "pipelines"),
)
F = TypeVar("F", bound=Callable[..., Any])


def retrying(use_case: F) -> F:
    """Run ``use_case`` again when the store says nothing was written (:class:`StoreBusy`).

    A serialization failure, a deadlock, a pool momentarily exhausted or a
    connection lost before the commit: each attempt is a whole new
    transaction, so running it again is safe. After the last attempt the
    error reaches the caller (503 over HTTP, with Retry-After).
    """

    @functools.wraps(use_case)
    def attempt(*args: Any, **kwargs: Any) -> Any:
        delay = RETRY_FIRST_S
        for left in range(RETRY_ATTEMPTS - 1, -1, -1):
            try:
                return use_case(*args, **kwargs)
            except StoreBusy as exc:
                if left == 0:
                    raise
                log.info("store busy, retrying", use_case=use_case.__name__, error=exc.message)
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 1.0)
        raise AssertionError("unreachable")

    return attempt  # type: ignore[return-value]


class Service(Controls, Execution):
    """Segue's use cases over one store: the core ones, the workers' and the operators'."""


for _name in RETRIED:
    setattr(Service, _name, retrying(getattr(Service, _name)))
