"""Task and step statuses, and the transitions allowed between them.

Task statuses::

    PENDING ──> RUNNING <──> WAITING_USER
       │           │   ╲          │
       │           │    ╲         │
       └──────> COMPLETED  FAILED ┘ ──(retry)──> RUNNING
                  (any non-terminal) ──> CANCELLED

- PENDING: created; its first steps are queued but none has started.
- RUNNING: an auto step is queued or running.
- WAITING_USER: nothing can move until a person submits input.
- COMPLETED / CANCELLED: terminal, never change again.
- FAILED: terminal unless an operator retries it (resume from failure).

Step statuses: PENDING (dependencies not done) -> READY (queued for a worker)
-> RUNNING -> COMPLETED, or PENDING -> WAITING_USER -> COMPLETED, or PENDING ->
SKIPPED (its condition was false). A failed attempt goes back to READY while
retries remain, else FAILED. CANCELLED when the task is cancelled.

Operators may *rerun* a step that has run (it and everything downstream go back
to PENDING with a new generation; a COMPLETED or FAILED task reopens), and
*skip* a FAILED or WAITING_USER step (dependents then proceed).
"""

from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    """Where a task stands as a whole."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    WAITING_USER = "WAITING_USER"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        """COMPLETED, FAILED and CANCELLED accept no further work."""
        return self in TERMINAL_TASK


class StepStatus(StrEnum):
    """Where one step of a task stands."""

    PENDING = "PENDING"
    READY = "READY"
    RUNNING = "RUNNING"
    WAITING_USER = "WAITING_USER"
    COMPLETED = "COMPLETED"
    SKIPPED = "SKIPPED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def done(self) -> bool:
        """COMPLETED and SKIPPED satisfy dependents."""
        return self in DONE

    @property
    def open(self) -> bool:
        """READY, RUNNING and WAITING_USER still have work to do."""
        return self in (StepStatus.READY, StepStatus.RUNNING, StepStatus.WAITING_USER)


# Tuples, not sets: ``in`` finds a member by identity at once, where a set would
# first call Enum.__hash__ (Python code). The hot loops of the core test these directly.
TERMINAL_TASK = (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED)
"""The task statuses that accept no further work."""
DONE = (StepStatus.COMPLETED, StepStatus.SKIPPED)
"""The step statuses that satisfy dependents."""

STEP_TRANSITIONS: dict[StepStatus, frozenset[StepStatus]] = {
    StepStatus.PENDING: frozenset(
        {
            StepStatus.READY,
            StepStatus.WAITING_USER,
            StepStatus.SKIPPED,
            StepStatus.FAILED,
            StepStatus.CANCELLED,
        }
    ),
    StepStatus.READY: frozenset({StepStatus.RUNNING, StepStatus.CANCELLED, StepStatus.PENDING}),
    StepStatus.RUNNING: frozenset(
        {
            StepStatus.COMPLETED,
            StepStatus.FAILED,
            StepStatus.READY,
            StepStatus.CANCELLED,
            StepStatus.PENDING,
        }
    ),
    StepStatus.WAITING_USER: frozenset(
        {StepStatus.COMPLETED, StepStatus.CANCELLED, StepStatus.SKIPPED, StepStatus.PENDING}
    ),
    StepStatus.FAILED: frozenset({StepStatus.READY, StepStatus.PENDING, StepStatus.SKIPPED}),
    StepStatus.COMPLETED: frozenset({StepStatus.PENDING}),
    StepStatus.SKIPPED: frozenset({StepStatus.PENDING}),
    StepStatus.CANCELLED: frozenset(),
}
"""Which step status may follow which (checked by the property tests); back to
PENDING only by an operator's rerun."""
