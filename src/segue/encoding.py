"""Small pure helpers of the service: artifacts as stored bytes, config defaults, files."""

from __future__ import annotations

import hashlib
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import jsonpatch
import orjson

from segue.errors import ArtifactTooLarge, PipelineInvalid, Problem
from segue.store.base import NewArtifact
from segue.types import JSONObject, JSONValue, pointer_part

_ORJSON_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)
"""Dataclasses and datetimes are not JSON values here (orjson would write them);
subclasses of str, int, dict and list go to the standard library, as before."""


def canonical_json(value: Any) -> str:
    """Compact JSON text; raises ValueError/TypeError for what JSON cannot hold.

    orjson writes it. Where orjson refuses the value (an integer past 64 bits, a
    lone surrogate, a subclass, deep nesting), the standard library writes it or
    refuses it with its own message. orjson writes NaN and the infinities as
    ``null``: a text with a ``null`` in it is checked for them.
    """
    try:
        data = orjson.dumps(value, option=_ORJSON_OPTIONS)
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    if b"null" in data and _has_non_finite(value):
        raise ValueError("Out of range float values are not JSON compliant")
    return data.decode()


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_non_finite(v) for v in value)
    return False


def unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` of ``json.loads``: an object whose names are unique (with a
    name twice, parsers differ on which one wins); ValueError names the name."""  # noqa: D205,D209
    value = dict(pairs)
    if len(value) < len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                shown = json.dumps(name if len(name) <= 40 else f"{name[:39]}…", ensure_ascii=False)
                raise ValueError(f"the name {shown} appears twice in one object")
            seen.add(name)
    return value


def why_not_json(exc: Exception) -> str:
    """Why a value or a text was refused as JSON, in JSON's words rather than those of
    Python's encoder or parser."""  # noqa: D205,D209
    if isinstance(exc, UnicodeEncodeError):
        bad = exc.object[exc.start : exc.end].encode("unicode_escape").decode()
        return f"it holds a lone surrogate ({bad}), which is not text"
    if "Out of range float values" in str(exc):
        return "it holds NaN or an infinite number, which JSON cannot hold"
    if "integer string conversion" in str(exc):  # Python's guard against huge integers
        return f"a number in it has more than {sys.get_int_max_str_digits()} digits"
    return str(exc)


def where_not_json(value: Any) -> str:
    """The JSON pointer of the first place in ``value`` that JSON cannot hold (a lone
    surrogate in a string or a name, NaN, an infinity, a value of no JSON type); ``""``
    when it is the whole value, or when no one place is to blame (nesting)."""  # noqa: D205,D209
    return pointer_to(value, lambda item: not_json(item) is not None) or ""


def pointer_to(value: Any, found: Callable[[Any], bool]) -> str | None:
    """The JSON pointer of the first scalar in ``value``, in document order, for which
    ``found`` is true, or of the object holding the first name for which it is (a pointer
    never quotes the culprit: it may be huge, or a lone surrogate). None: there is none.
    For error messages: it builds the pointers, so it is not for the happy path."""  # noqa: D205,D209
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, pointer = stack.pop()
        if isinstance(item, dict):
            if any(isinstance(name, str) and found(name) for name in item):
                return pointer
            for name, inner in reversed(item.items()):
                stack.append((inner, f"{pointer}/{pointer_part(name)}"))
        elif isinstance(item, list | tuple):
            stack.extend((inner, f"{pointer}/{i}") for i, inner in reversed(list(enumerate(item))))
        elif found(item):
            return pointer
    return None


def not_json(value: Any) -> str | None:
    """Why ``value`` cannot be stored as JSON (NaN, infinities, lone surrogates, cycles,
    non-JSON types, absurd nesting), or None when it can."""  # noqa: D205,D209
    try:
        canonical_json(value).encode("utf-8")
    except (TypeError, ValueError) as exc:
        return why_not_json(exc)
    except RecursionError:
        return "it is nested too deeply"
    return None


def request_hash(*parts: Any) -> str:
    """sha256 of the canonical JSON of ``parts`` (for idempotency keys)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def encode_artifact(
    step: str,
    value: JSONValue,
    *,
    inline_limit: int,
    max_size: int,
    put_blob: Any,
    what: str = "output",
) -> NewArtifact:
    """The stored form of an output: inline JSON up to ``inline_limit`` bytes, else a blob.

    Raises:
        ArtifactTooLarge: over ``max_size`` bytes.
        ValueError, TypeError: the value is not JSON.
    """
    text = canonical_json(value)
    data = text.encode("utf-8")
    size = len(data)
    if size > max_size:
        raise ArtifactTooLarge(
            f"The {what} of step '{step}' is {size} bytes, over the limit of {max_size} bytes.",
            step=step,
            size=size,
            limit=max_size,
        )
    if size > inline_limit:
        return NewArtifact(
            step=step,
            attempt=0,
            generation=1,
            kind="blob",
            value_text=None,
            sha256=put_blob(data),
            size=size,
        )
    return NewArtifact(
        step=step,
        attempt=0,
        generation=1,
        kind="json",
        value_text=text,
        sha256=hashlib.sha256(data).hexdigest(),
        size=size,
    )


def artifact_ref(artifact: NewArtifact) -> JSONObject:
    """The small reference an event carries instead of the payload."""
    return {"kind": artifact.kind, "sha256": artifact.sha256, "size": artifact.size}


def input_meta(prefill: JSONValue, value: JSONValue) -> JSONObject | None:
    """What the person was offered and what they changed: ``{prefill, patch}`` (RFC 6902)."""
    if prefill is None:
        return None
    patch = [] if same_json(prefill, value) else jsonpatch.make_patch(prefill, value).patch
    return {"prefill": prefill, "patch": cast(JSONValue, patch)}


def same_json(a: JSONValue, b: JSONValue) -> bool:
    """Equality of JSON values, where (unlike Python's ==) true is not 1 and false is not
    0; numbers compare by value (1 and 1.0 are the same JSON number)."""  # noqa: D205,D209
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(same_json(v, b[k]) for k, v in a.items())
        )
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(same_json, a, b))
    return a == b


def with_patch(meta: JSONObject | None, value: JSONValue) -> JSONObject | None:
    """An answer's stored meta with its ``patch``. An inline answer is stored with its
    ``prefill`` only: the patch follows from the two, so it is worked out when read,
    off the write path (blob answers, and rows written before, carry it already)."""  # noqa: D205,D209
    if meta is None or "patch" in meta or "prefill" not in meta:
        return meta
    return input_meta(meta["prefill"], value)


def apply_config_defaults(schema: JSONObject, config: dict[str, Any]) -> dict[str, Any]:
    """Fill in top-level ``default`` values the schema declares for absent keys."""
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name, sub in properties.items():
            if name not in config and isinstance(sub, dict) and "default" in sub:
                config[name] = json.loads(json.dumps(sub["default"]))
    return config


def read_definition(path: str | Path) -> str:
    """Read a definition file as UTF-8 text.

    Raises:
        PipelineInvalid: the file cannot be read or is not UTF-8.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise PipelineInvalid(
            [Problem(message=f"cannot read the file: {exc.strerror}", file=str(p))]
        ) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PipelineInvalid(
            [Problem(message=f"the file is not UTF-8 text (byte {exc.start})", file=str(p))]
        ) from exc
