"""Where time comes from: the system clock in production, a fake in tests."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """A source of the current time."""

    def now(self) -> datetime:
        """The current time, aware UTC."""

    def sleep(self, seconds: float) -> None:
        """Wait (a fake clock may just move forward)."""


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current time, aware UTC."""
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds``."""
        time.sleep(seconds)


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch."""
    return int(moment.timestamp() * 1000)
