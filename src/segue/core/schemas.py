"""Checking a person's input against a step's JSON Schema (draft 2020-12)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator

from segue.errors import InputInvalid, Violation
from segue.types import SHOWN_CHARS, JSONValue, pointer_part


@lru_cache(maxsize=512)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json))


_BY_IDENTITY: dict[int, tuple[Any, Draft202012Validator]] = {}
"""Validators by the id of the schema object they were made for (kept alive here, so the
id stays its own): a compiled pipeline's schemas skip the canonical text of the cache key."""


def _validator_for(schema: Any) -> Draft202012Validator:
    known = _BY_IDENTITY.get(id(schema))
    if known is not None and known[0] is schema:
        return known[1]
    validator = _validator(json.dumps(schema, sort_keys=True))
    if len(_BY_IDENTITY) >= 512:
        _BY_IDENTITY.clear()
    _BY_IDENTITY[id(schema)] = (schema, validator)
    return validator


def violations(schema: Any, value: JSONValue) -> list[Violation]:
    """Every violation of ``schema`` by ``value``, each with its JSON pointer."""
    validator = _validator_for(schema)
    found = []
    for error in sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.path))):
        pointer = "".join(f"/{pointer_part(p)}" for p in error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [n for n in error.validator_value if n not in error.instance]
            for name in missing:
                found.append(Violation(f"{pointer}/{pointer_part(name)}", f"'{name}' is required"))
            continue
        found.append(Violation(pointer or "", _message(error.message, error.instance)))
    return list(dict.fromkeys(found))  # one "required" error per missing name repeats the list


def _message(message: str, instance: Any) -> str:
    """The message jsonschema gives, with the value it quotes cut short."""
    try:
        shown = repr(instance)
    except ValueError:  # an integer too long to write out
        return message
    if len(shown) <= SHOWN_CHARS or shown not in message:
        return message
    return message.replace(shown, f"{shown[: SHOWN_CHARS - 1]}… ({len(shown)} characters)", 1)


def check_input(schema: Any, value: JSONValue, *, step: str) -> None:
    """Raise :class:`InputInvalid` listing every violation, or return.

    Raises:
        InputInvalid: the value breaks the schema.
    """
    found = violations(schema, value)
    if found:
        listed = "; ".join(  # a violation of the whole value needs no pointer
            f"{v.pointer}: {v.message}" if v.pointer else v.message for v in found[:5]
        )
        more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
        raise InputInvalid(
            f"The input for step '{step}' is invalid: {listed}{more}.", found, step=step
        )
