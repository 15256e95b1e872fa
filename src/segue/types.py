"""Shared value types: ids, JSON, and the aware-UTC datetime rule.

Every datetime that crosses a module boundary is timezone-aware UTC.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NewType, TypeAlias, TypeVar, dataclass_transform, overload

JSONValue: TypeAlias = "bool | int | float | str | list[JSONValue] | dict[str, JSONValue] | None"
JSONObject: TypeAlias = "dict[str, JSONValue]"

_T = TypeVar("_T")


@overload
def record(cls: type[_T], /) -> type[_T]: ...
@overload
def record(*, kw_only: bool = False) -> Callable[[type[_T]], type[_T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def record(cls: type[Any] | None = None, /, *, kw_only: bool = False) -> Any:
    """A value class: a frozen, slotted dataclass to type checkers, hashable as one.

    At run time it is not frozen: a frozen dataclass sets each field through
    ``object.__setattr__``, which makes its constructor about four times slower,
    and these are built on every transition. Nothing assigns to them: mypy
    refuses it, as it would for ``frozen=True``.
    """

    def wrap(c: type[Any]) -> type[Any]:
        return dataclass(slots=True, kw_only=kw_only, unsafe_hash=True)(c)

    return wrap if cls is None else wrap(cls)


SHOWN_CHARS = 60
"""How much of a value a message quotes (it can be a whole document, or a 5,000-character
id someone put in a URL)."""


def cut(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text``, or its first characters, an ellipsis and its length when it is long."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 1]}… ({len(text)} characters)"


def pointer_part(part: object) -> str:
    """One step of a JSON Pointer (RFC 6901): ``~`` and ``/`` escaped."""
    return str(part).replace("~", "~0").replace("/", "~1")


TaskId = NewType("TaskId", str)
StepId = NewType("StepId", str)


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def new_task_id() -> TaskId:
    """Return a new time-ordered task id (a UUIDv7 in its canonical text form).

    Ids sort by creation time, which keeps the tasks index append-mostly and
    lets keyset pagination order by id.
    """
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= ((rand >> 62) & 0xFFF) << 64  # 12 random bits
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & ((1 << 62) - 1)
    h = f"{value:032x}"
    return TaskId(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")


@lru_cache(maxsize=8192)
def isoformat(moment: datetime | None) -> str | None:
    """Return an ISO 8601 UTC string (``...Z``), or None.

    Cached: a task's state row repeats the same few times on every save.
    """
    if moment is None:
        return None
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")[:-6] + "Z"


def parse_iso(text: str | None) -> datetime | None:
    """Parse what :func:`isoformat` wrote back into an aware datetime."""
    if text is None:
        return None
    return datetime.fromisoformat(text)
