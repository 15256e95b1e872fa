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

from segue.control import Controls
from segue.encoding import read_definition
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


class Service(Controls, Execution):
    """Segue's use cases over one store: the core ones, the workers' and the operators'."""
