"""Retry delays as a pure function of the policy and the attempt number."""

from __future__ import annotations

from segue.spec.model import RetryPolicy


def retry_delay_s(policy: RetryPolicy, attempt: int, jitter_sample: float) -> float:
    """Seconds to wait before the attempt after ``attempt`` (1-based).

    ``jitter_sample`` is a number in [0, 1) chosen by the caller (the core
    reads no randomness); it shortens the delay by up to ``policy.jitter`` of it.
    """
    if policy.backoff == "fixed":
        delay = policy.initial_delay_s
    else:
        delay = policy.initial_delay_s * (2 ** max(attempt - 1, 0))
    delay = min(delay, policy.max_delay_s)
    return max(0.0, delay * (1.0 - policy.jitter * jitter_sample))


def attempts_left(policy: RetryPolicy, attempt: int) -> bool:
    """Say whether another attempt is allowed after ``attempt`` failed."""
    return attempt < policy.max_attempts
