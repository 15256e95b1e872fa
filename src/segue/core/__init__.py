"""The pure state machine: no I/O, no clock, no randomness."""

from segue.core.commands import (
    Cancel,
    ClaimStep,
    Command,
    CompleteStep,
    ExpireLease,
    FailStep,
    RejectReport,
    Rerun,
    Retry,
    Skip,
    SubmitInput,
    TimeOut,
)
from segue.core.machine import Transition, advance, fork, settle, start
from segue.core.states import StepStatus, TaskStatus
from segue.core.task import Event, EventType, StepState, TaskState, apply, replay
from segue.core.view import current_step, task_view

__all__ = [
    "Cancel",
    "ClaimStep",
    "Command",
    "CompleteStep",
    "Event",
    "EventType",
    "ExpireLease",
    "FailStep",
    "RejectReport",
    "Rerun",
    "Retry",
    "Skip",
    "StepState",
    "StepStatus",
    "SubmitInput",
    "TaskState",
    "TaskStatus",
    "TimeOut",
    "Transition",
    "advance",
    "apply",
    "current_step",
    "fork",
    "replay",
    "settle",
    "start",
    "task_view",
]
