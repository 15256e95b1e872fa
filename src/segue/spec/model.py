"""Pipeline definitions as frozen values.

A :class:`PipelineSpec` is what a YAML or JSON definition means once it has
been loaded and validated; nothing in it changes after registration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from segue.types import JSONObject

DEFAULT_MAX_ATTEMPTS = 1
DEFAULT_INITIAL_DELAY_S = 1.0
DEFAULT_MAX_DELAY_S = 300.0


class StepKind(StrEnum):
    """What runs a step: the backend (``auto``) or a person (``wait_user``)."""

    AUTO = "auto"
    WAIT_USER = "wait_user"


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How often and how soon a failed ``auto`` step is tried again."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    """Attempts in all, the first included (default 1: no retry)."""
    backoff: Literal["fixed", "exponential"] = "exponential"
    """``fixed`` waits ``initial_delay_s`` each time; ``exponential`` doubles it."""
    initial_delay_s: float = DEFAULT_INITIAL_DELAY_S
    """Delay before the second attempt (default 1 s)."""
    max_delay_s: float = DEFAULT_MAX_DELAY_S
    """Upper bound of any delay (default 300 s)."""
    jitter: float = 0.0
    """Fraction of the delay (0 to 1) that is randomised to spread retries."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepSpec:
    """One step of a pipeline."""

    id: str
    kind: StepKind
    depends_on: tuple[str, ...]
    title: str | None = None
    description: str | None = None
    when: str | None = None
    """CEL condition; when it is false the step is SKIPPED."""
    run: str | None = None
    """Handler reference ``package.module:function`` (auto steps)."""
    params: JSONObject = field(default_factory=dict)
    """The literal ``with`` mapping, passed to the handler."""
    input_schema: JSONObject | None = None
    """JSON Schema (draft 2020-12) of the input a person submits (wait steps)."""
    prefill: str | None = None
    """CEL expression giving the default offered to the person (wait steps)."""
    retry: RetryPolicy | None = None
    """Retry policy; None means the pipeline's default."""
    timeout_s: float | None = None
    on_timeout: Literal["fail", "skip", "use_prefill"] = "fail"
    concurrency: int | None = None
    executor: Literal["thread", "process"] = "thread"
    """Auto steps: run the handler in a worker thread, or in a child process that a
    timeout or a cancellation can kill."""
    roles: tuple[str, ...] = ()
    """Wait steps: only callers holding one of these roles may answer (empty: anyone who may
    advance)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineSpec:
    """A validated, immutable pipeline definition."""

    name: str
    version: int
    steps: tuple[StepSpec, ...]
    title: str | None = None
    description: str | None = None
    config_schema: JSONObject = field(default_factory=lambda: {"type": "object"})
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    concurrency: int | None = None
    """At most this many runs of this pipeline's auto steps at once, across every worker."""
    content_hash: str = ""
    """sha256 of the canonical JSON form of the definition."""
    source: JSONObject = field(default_factory=dict)
    """The definition as plain data (what was registered)."""
    order: tuple[StepSpec, ...] = field(init=False, repr=False, compare=False)
    """The steps in an order where each comes after the steps it depends on (definition
    order where that allows; steps on a dependency cycle last, in definition order)."""
    _by_id: dict[str, StepSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "order", _dependencies_first(self.steps))
        object.__setattr__(self, "_by_id", {step.id: step for step in reversed(self.steps)})

    def step(self, step_id: str) -> StepSpec:
        """Return the step with this id (KeyError if there is none)."""
        return self._by_id[step_id]

    def has_step(self, step_id: str) -> bool:
        """Say whether the pipeline has a step with this id."""
        return step_id in self._by_id

    def retry_for(self, step: StepSpec) -> RetryPolicy:
        """Return the retry policy in force for ``step``."""
        return step.retry or self.retry

    @property
    def step_ids(self) -> tuple[str, ...]:
        """Step ids in definition order."""
        return tuple(step.id for step in self.steps)


def _dependencies_first(steps: tuple[StepSpec, ...]) -> tuple[StepSpec, ...]:
    """Order ``steps`` so that each comes after its dependencies, keeping definition order
    between steps that do not depend on each other."""  # noqa: D205,D209
    known = {step.id for step in steps}
    placed: set[str] = set()
    ordered: list[StepSpec] = []
    left = list(steps)
    while left:
        first = next(
            (s for s in left if all(d in placed or d not in known for d in s.depends_on)), None
        )
        if first is None:  # a cycle (an invalid definition being reported): keep the rest
            return (*ordered, *left)
        ordered.append(first)
        placed.add(first.id)
        left.remove(first)
    return tuple(ordered)
