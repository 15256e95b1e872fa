"""The whole exception tree of Segue.

Every error has a stable ``code`` (for programs), an ``http_status`` (for the API
mapper) and a message that says what to do next (for people)::

    EngineError
    ├── UserError                  what the caller can fix
    │   ├── PipelineInvalid        a definition has problems (each with file, line, column)
    │   ├── PipelineNotFound
    │   ├── VersionConflict        same (name, version), different content
    │   ├── ConfigInvalid          task config breaks the pipeline's config schema
    │   ├── InputInvalid           submitted input breaks the step's input schema
    │   ├── TaskNotFound
    │   ├── FileNotFound           no uploaded file has that sha256
    │   ├── StepNotFound           the step id is not in the task's pipeline
    │   ├── StepNotWaiting         advance names a step that is not waiting (stale client)
    │   ├── TaskFinished           the task is COMPLETED, FAILED or CANCELLED
    │   ├── InvalidCommand         the command does not apply to the task's state
    │   ├── RevisionMismatch       a compare-and-set named an old revision
    │   ├── IdempotencyConflict    a reused Idempotency-Key with a different request
    │   └── ArtifactTooLarge       a step's output is over the documented maximum
    ├── OperatorError              what an operator must fix
    │   ├── StoreUnavailable
    │   │   └── StoreBusy          nothing was written and trying again is safe (retried first)
    │   ├── UnsafeDurability       the database would not keep acknowledged writes on a crash
    │   ├── MigrationRequired      the database schema is older or newer than this code
    │   ├── HandlerNotFound        a ``run`` reference cannot be imported
    │   └── LeaseLost              a worker's claim on a step run was taken over
    └── (handler side) PermanentError  raised by a handler: fail now, do not retry
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar


class EngineError(Exception):
    """Something went wrong in Segue."""

    code: ClassVar[str] = "engine_error"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or (self.__doc__ or self.code).strip().splitlines()[0]
        self.details: dict[str, Any] = details
        super().__init__(self.message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.details))

    def to_dict(self) -> dict[str, Any]:
        """Return the error as plain JSON: code, message and details."""
        return {"code": self.code, "message": self.message, **self.details}


def _rebuild(cls: type[EngineError], message: str, details: dict[str, Any]) -> EngineError:
    err = cls.__new__(cls)
    EngineError.__init__(err, message, **details)
    return err


class UserError(EngineError):
    """The request cannot be carried out as given; change it and try again."""

    code = "user_error"
    http_status = 400


class OperatorError(EngineError):
    """The engine cannot work as configured; an operator must fix it."""

    code = "operator_error"
    http_status = 503


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One problem in a pipeline definition, with where it is."""

    message: str
    path: str = ""
    file: str | None = None
    line: int | None = None
    column: int | None = None

    def location(self) -> str:
        """Return ``file:line:column`` (the parts that are known)."""
        parts = [self.file or "<definition>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        return f"{self.location()}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """Return the problem as plain JSON."""
        return {
            "message": self.message,
            "path": self.path,
            "file": self.file,
            "line": self.line,
            "column": self.column,
        }


class PipelineInvalid(UserError):
    """The pipeline definition is invalid."""

    code = "pipeline_invalid"
    http_status = 422

    def __init__(self, problems: Sequence[Problem], message: str | None = None) -> None:
        self.problems = tuple(problems)
        first = str(self.problems[0]) if self.problems else "no details"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(
            message or f"The pipeline definition is invalid: {first}{more}",
            problems=[p.to_dict() for p in self.problems],
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.problems, self.message))


class PipelineNotFound(UserError):
    """No pipeline with that name (and version) is registered; register it first."""

    code = "pipeline_not_found"
    http_status = 404


class VersionConflict(UserError):
    """The (pipeline, version) is registered with different content; bump the version."""

    code = "version_conflict"
    http_status = 409


@dataclass(frozen=True, slots=True)
class Violation:
    """One JSON Schema violation: where in the document, and what is wrong."""

    pointer: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """Return the violation as plain JSON."""
        return {"pointer": self.pointer, "message": self.message}


class _SchemaViolations(UserError):
    http_status = 422

    def __init__(self, message: str, violations: Sequence[Violation], **details: Any) -> None:
        self.violations = tuple(violations)
        super().__init__(message, violations=[v.to_dict() for v in self.violations], **details)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.details))


class ConfigInvalid(_SchemaViolations):
    """The task config does not match the pipeline's config schema."""

    code = "config_invalid"


class InputInvalid(_SchemaViolations):
    """The submitted input does not match the step's input schema."""

    code = "input_invalid"


class TaskNotFound(UserError):
    """No task has that id; check the id (``segue tasks list`` shows them)."""

    code = "task_not_found"
    http_status = 404


class FileNotFound(UserError):
    """No uploaded file has that sha256; upload it first (``POST /files``)."""

    code = "file_not_found"
    http_status = 404


class StepNotFound(UserError):
    """The task's pipeline has no step with that id."""

    code = "step_not_found"
    http_status = 404


class StepNotWaiting(UserError):
    """That step is not waiting for input; fetch the task to see what it waits for now."""

    code = "step_not_waiting"
    http_status = 409


class TaskFinished(UserError):
    """The task has finished and accepts no more changes."""

    code = "task_finished"
    http_status = 409


class InvalidCommand(UserError):
    """That command does not apply to the task in its current state."""

    code = "invalid_command"
    http_status = 409


class RevisionMismatch(UserError):
    """The task has changed since the revision the client named; fetch it again."""

    code = "revision_mismatch"
    http_status = 412


class IdempotencyConflict(UserError):
    """That Idempotency-Key was already used with a different request; use a new key."""

    code = "idempotency_conflict"
    http_status = 422


class ArtifactTooLarge(UserError):
    """The step's output is larger than the maximum artifact size."""

    code = "artifact_too_large"
    http_status = 413


class StoreUnavailable(OperatorError):
    """The database cannot be reached or written; check the database URL and the server."""

    code = "store_unavailable"


class StoreBusy(StoreUnavailable):
    """The database could not finish the operation this time; nothing was written, try again.

    A serialization failure, a deadlock, an exhausted connection pool, or a
    connection lost before the commit was sent: the transaction surely rolled
    back, so the service retries it (a few times) before this reaches a caller.
    """

    code = "store_busy"


class UnsafeDurability(OperatorError):
    """The database would not keep acknowledged writes on a crash; fix it or pass --allow-unsafe."""

    code = "unsafe_durability"


class MigrationRequired(OperatorError):
    """The database schema does not match this version of Segue; run ``segue db upgrade``."""

    code = "migration_required"


class HandlerNotFound(OperatorError):
    """A step's handler cannot be imported; check its ``run`` reference."""

    code = "handler_not_found"


class LeaseLost(OperatorError):
    """The worker no longer holds the step run; its result was discarded."""

    code = "lease_lost"
    http_status = 409


class PermanentError(Exception):
    """Raise from a handler to fail the step now, without retries.

    Any other exception a handler raises is retried according to the step's
    retry policy.
    """
