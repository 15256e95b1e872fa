"""Segue: a durable, backend-owned workflow engine."""

from segue.app import Segue
from segue.core.states import StepStatus, TaskStatus
from segue.errors import (
    EngineError,
    InputInvalid,
    OperatorError,
    PermanentError,
    PipelineInvalid,
    StepNotWaiting,
    TaskFinished,
    TaskNotFound,
    UserError,
)
from segue.runtime.context import StepContext
from segue.settings import Settings

__all__ = [
    "EngineError",
    "InputInvalid",
    "OperatorError",
    "PermanentError",
    "PipelineInvalid",
    "Segue",
    "Settings",
    "StepContext",
    "StepNotWaiting",
    "StepStatus",
    "TaskFinished",
    "TaskNotFound",
    "TaskStatus",
    "UserError",
]

__version__ = "0.1.0"
