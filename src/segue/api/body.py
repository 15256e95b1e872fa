"""Reading request bodies within limits: size, JSON well-formedness, depth, strings."""

from __future__ import annotations

import json
import math
import operator
from dataclasses import dataclass
from functools import partial
from typing import Any

from fastapi import Request

from segue.api.problems import ApiProblem
from segue.encoding import pointer_to, unique_names, why_not_json

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_DEPTH = 32
DEFAULT_MAX_STRING = 100_000


@dataclass(frozen=True, slots=True)
class Limits:
    """What one request may carry."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH
    max_string: int = DEFAULT_MAX_STRING
    max_page: int = 200
    max_upload_bytes: int = 64 * 1024 * 1024


async def read_body(request: Request, limits: Limits) -> bytes:
    """The raw body, refusing more than the limit before reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
        raise _too_large(limits)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limits.max_body_bytes:
            raise _too_large(limits)
        chunks.append(chunk)
    return b"".join(chunks)


def size_text(size: int) -> str:
    """``64 MiB`` for a whole number of MiB, else ``1500 bytes``."""
    mib = 1024 * 1024
    return f"{size // mib} MiB" if size >= mib and size % mib == 0 else f"{size} bytes"


def _too_large(limits: Limits) -> ApiProblem:
    return ApiProblem(
        413,
        "body_too_large",
        f"The request body is over the limit of {size_text(limits.max_body_bytes)}.",
        limit=limits.max_body_bytes,
    )


async def read_json(request: Request, limits: Limits) -> Any:
    """The body as JSON, within the depth and string-length limits."""
    raw = await read_body(request, limits)
    try:
        text = raw.decode("utf-8-sig")  # a byte order mark is ignored (RFC 8259, 8.1)
    except UnicodeDecodeError as exc:
        raise ApiProblem(400, "body_not_utf8", "The request body is not UTF-8 text.") from exc
    if not text.strip():
        raise ApiProblem(400, "body_not_json", "The request body is empty; send a JSON object.")
    try:
        value = json.loads(
            text, parse_constant=_no_constant, parse_float=_finite, object_pairs_hook=unique_names
        )
    except RecursionError as exc:
        raise ApiProblem(
            422,
            "too_deep",
            f"The JSON is nested more than {limits.max_depth} levels deep.",
            limit=limits.max_depth,
        ) from exc
    except (json.JSONDecodeError, ValueError) as exc:
        raise ApiProblem(
            400, "body_not_json", f"The request body is not valid JSON: {why_not_json(exc)}."
        ) from exc
    check_limits(value, limits)
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: valid JSON syntax, but no number a double can hold
        shown = text if len(text) <= 30 else f"{text[:29]}…"
        raise ValueError(f"the number {shown} is too large to hold")
    return value


def check_limits(value: Any, limits: Limits) -> None:
    """Refuse values nested deeper than the limit or with over-long strings."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limits.max_depth:
            raise ApiProblem(
                422,
                "too_deep",
                f"The JSON is nested more than {limits.max_depth} levels deep.",
                limit=limits.max_depth,
            )
        if isinstance(item, str) and len(item) > limits.max_string:
            pointer = pointer_to(value, partial(operator.is_, item)) or ""  # only once refused
            where = f" at {pointer}" if pointer else ""
            raise ApiProblem(
                422,
                "string_too_long",
                f"A string{where} is {len(item)} characters long, over the limit of "
                f"{limits.max_string}.",
                limit=limits.max_string,
                errors=[{"pointer": pointer, "message": f"over {limits.max_string} characters"}],
            )
        if isinstance(item, dict):
            stack.extend((k, depth + 1) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
