"""Commands: what the shell asks the state machine to do to a task."""

from __future__ import annotations

from dataclasses import field

from segue.types import JSONObject, JSONValue, record


@record(kw_only=True)
class ClaimStep:
    """A worker took the queued attempt of ``step``."""

    step: str
    attempt: int
    worker: str


@record(kw_only=True)
class CompleteStep:
    """The handler of ``step`` returned; ``artifact`` summarises its stored output."""

    step: str
    attempt: int
    artifact: JSONObject = field(default_factory=dict)


@record(kw_only=True)
class FailStep:
    """The handler of ``step`` raised (or its output could not be kept)."""

    step: str
    attempt: int
    error_type: str
    message: str
    permanent: bool = False
    jitter_sample: float = 0.0
    """A number in [0, 1) drawn by the shell, for retry jitter."""


@record(kw_only=True)
class ExpireLease:
    """The worker running ``step`` stopped renewing its lease."""

    step: str
    attempt: int


@record(kw_only=True)
class SubmitInput:
    """A person answered the wait step ``step``."""

    step: str
    input: JSONValue
    actor: str | None = None
    artifact: JSONObject = field(default_factory=dict)


@record(kw_only=True)
class Cancel:
    """Stop the task for good."""

    actor: str | None = None
    reason: str | None = None


@record(kw_only=True)
class Retry:
    """Resume a FAILED task: its failed steps get a new attempt."""

    actor: str | None = None


@record(kw_only=True)
class Rerun:
    """Run ``step`` and everything downstream of it again, as a new generation.

    For a wait step, ``input`` (when ``has_input``) answers it at once;
    otherwise the task waits there again, offering ``previous`` (the last
    submitted input, read by the shell) as the prefill.
    """

    step: str
    actor: str | None = None
    reason: str | None = None
    input: JSONValue = None
    has_input: bool = False
    previous: JSONValue = None
    artifact: JSONObject = field(default_factory=dict)


@record(kw_only=True)
class RejectReport:
    """Record that a worker's report for ``step`` (attempt) arrived too late and was dropped."""

    step: str
    attempt: int
    outcome: str
    reason: str


@record(kw_only=True)
class TimeOut:
    """A durable timer fired: the wait step ``step`` (attempt) got no input in time.

    For ``on_timeout: use_prefill``, ``artifact`` summarises the stored prefill.
    """

    step: str
    attempt: int
    artifact: JSONObject = field(default_factory=dict)


@record(kw_only=True)
class Skip:
    """An operator skips a FAILED or WAITING_USER step; its dependents proceed."""

    step: str
    actor: str | None = None
    reason: str | None = None


Command = (
    ClaimStep
    | CompleteStep
    | FailStep
    | ExpireLease
    | SubmitInput
    | Cancel
    | Retry
    | Rerun
    | Skip
    | TimeOut
    | RejectReport
)
