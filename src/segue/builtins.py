"""Built-in handlers for composing and testing pipelines.

- ``segue.builtins:passthrough`` returns its upstream artifacts and parameters.
- ``segue.builtins:sleep`` waits ``with: {seconds: S}`` and returns ``{"slept": S}``.
- ``segue.builtins:fail`` raises on the first ``with: {attempts: N}`` attempts
  (default: every attempt), then returns ``{"attempt": n}``; with
  ``permanent: true`` it raises :class:`segue.PermanentError` instead.
"""

from __future__ import annotations

import time
from typing import Any

from segue.errors import PermanentError
from segue.runtime.context import StepContext


def passthrough(ctx: StepContext) -> dict[str, Any]:
    """Return ``{"params": …, "upstream": {step: artifact}}`` of the direct dependencies."""
    upstream = {step: ctx.artifacts[step] for step in ctx.depends_on if step in ctx.artifacts}
    return {"params": dict(ctx.params), "upstream": upstream}


def sleep(ctx: StepContext) -> dict[str, Any]:
    """Sleep ``params.seconds`` (default 1) and say so."""
    seconds = float(ctx.params.get("seconds", 1))  # type: ignore[arg-type]
    time.sleep(seconds)
    return {"slept": seconds}


class InjectedFailure(RuntimeError):
    """The failure ``segue.builtins:fail`` raises on purpose."""


def fail(ctx: StepContext) -> dict[str, Any]:
    """Fail the first ``params.attempts`` attempts (all when absent), then succeed."""
    attempts = ctx.params.get("attempts")
    message = str(ctx.params.get("message", f"injected failure on attempt {ctx.attempt}"))
    if attempts is None or ctx.attempt <= int(attempts):  # type: ignore[arg-type]
        if ctx.params.get("permanent"):
            raise PermanentError(message)
        raise InjectedFailure(message)
    return {"attempt": ctx.attempt}
