"""Conditions and prefills as CEL expressions (never Python ``eval``).

An expression sees three names: ``config`` (the task's parameters),
``artifacts.<step>`` (that step's output) and ``inputs.<step>`` (what a person
submitted at that wait step). :func:`compile_expression` parses the text once
and records which steps it reads, so a typo or an unknown step is caught when
the definition is loaded rather than when a task runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import celpy
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError
from lark import Token, Tree

from segue.types import JSONValue

ROOT_NAMES = frozenset({"config", "artifacts", "inputs"})
STEP_ROOTS = frozenset({"artifacts", "inputs"})
MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})

_ENV = celpy.Environment()


class ExpressionError(Exception):
    """An expression does not compile, or cannot be evaluated."""


@dataclass(frozen=True, slots=True)
class Expression:
    """A compiled CEL expression and the names it reads."""

    source: str
    roots: frozenset[str]
    """Top-level names used (``config``, ``artifacts``, ``inputs``, or unknown ones)."""
    steps: frozenset[str]
    """Step ids read through ``artifacts.<id>`` or ``inputs.<id>``."""
    _program: Any
    _path: tuple[str, ...] | None = None
    """For a plain field path (``artifacts.abstract.directory``): its names, read
    without building CEL values of the whole activation."""

    def evaluate(self, activation: Mapping[str, JSONValue]) -> JSONValue:
        """Evaluate over plain JSON data and return plain JSON.

        Raises:
            ExpressionError: the expression fails at run time (a missing
                field, a type mismatch, a division by zero).
        """
        if self._path is not None:
            found = _follow(activation, self._path)
            if found is not _MISSING:
                return cast(JSONValue, found)
            # Missing, or not plain JSON: CEL gives the exact error.
        try:
            data = json_to_cel(dict(activation))
        except (ValueError, OverflowError) as exc:  # CEL integers are 64-bit
            raise ExpressionError(f"its data cannot be read as CEL values ({exc})") from exc
        try:
            result = self._program.evaluate(data)
        except CELEvalError as exc:
            raise ExpressionError(_eval_message(exc)) from exc
        if isinstance(result, CELEvalError):
            raise ExpressionError(_eval_message(result))
        return to_json(result)

    def is_true(self, activation: Mapping[str, JSONValue]) -> bool:
        """Evaluate a condition; anything but a boolean is an error."""
        value = self.evaluate(activation)
        if not isinstance(value, bool):
            raise ExpressionError(
                f"the condition gave {type(value).__name__} {value!r}, not true or false"
            )
        return value


@lru_cache(maxsize=2048)
def compile_expression(source: str) -> Expression:
    """Parse and prepare ``source`` (cached: the same text compiles once).

    Raises:
        ExpressionError: the text is not valid CEL.
    """
    try:
        ast = _ENV.compile(source)
    except CELParseError as exc:
        raise ExpressionError(f"does not compile: {_parse_message(source, exc)}") from exc
    roots, steps = _names(ast)
    path = tuple(part.strip() for part in source.split("."))
    plain = path[0] in ROOT_NAMES and all(_FIELD.fullmatch(part) for part in path)
    return Expression(
        source,
        frozenset(roots),
        frozenset(steps),
        _ENV.program(ast),
        path if plain and not RESERVED.intersection(path) else None,
    )


_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
RESERVED = frozenset({"true", "false", "null", "in", "as", "break", "const", "continue"})
_MISSING = object()


def _follow(value: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path`` as a fresh copy of plain JSON, or ``_MISSING``."""
    for name in path:
        if not isinstance(value, Mapping) or name not in value:
            return _MISSING
        value = value[name]
    try:
        return _copy(value)
    except _NotPlain:  # integers beyond CEL's 64 bits, non-JSON values: CEL says why
        return _MISSING


class _NotPlain(Exception):
    pass


def _copy(value: Any) -> Any:
    if isinstance(value, str | bool | float) or value is None:
        return value
    if isinstance(value, int):
        if -(2**63) <= value < 2**63:
            return value
        raise _NotPlain
    if isinstance(value, Mapping):
        return {str(k): _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(v) for v in value]
    raise _NotPlain


def _names(ast: Tree[Any]) -> tuple[set[str], set[str]]:
    """Collect top-level identifiers and the step ids read under artifacts/inputs."""
    roots: set[str] = set()
    steps: set[str] = set()
    bound: set[str] = set()
    for node in ast.iter_subtrees():
        if node.data == "member_dot_arg" and len(node.children) >= 3:
            bound |= _macro_variable(node)
        if node.data == "primary":
            ident = _ident(node)
            if ident is not None:
                roots.add(ident)
        elif node.data == "member_dot" and len(node.children) == 2:
            base, name = node.children
            if isinstance(base, Tree) and isinstance(name, Token):
                root = _root_ident(base)
                if root in STEP_ROOTS:
                    steps.add(str(name))
        elif node.data == "member_index" and len(node.children) == 2:
            base, index = node.children
            if isinstance(base, Tree) and _root_ident(base) in STEP_ROOTS:
                literal = _string_literal(index)
                if literal is not None:
                    steps.add(literal)
    return roots - bound, steps


def _macro_variable(node: Tree[Any]) -> set[str]:
    """The variable a macro such as ``list.exists(x, ...)`` binds (``x``), if any."""
    method, args = node.children[1], node.children[2]
    if not isinstance(method, Token) or str(method) not in MACROS or not isinstance(args, Tree):
        return set()
    first = args.children[0] if args.children else None
    for sub in first.iter_subtrees() if isinstance(first, Tree) else []:
        if sub.data == "primary":
            name = _ident(sub)
            return {name} if name else set()
    return set()


def _ident(primary: Tree[Any]) -> str | None:
    """Return the identifier of a ``primary -> ident`` node, if that is what it is."""
    if len(primary.children) == 1:
        child = primary.children[0]
        if isinstance(child, Tree) and child.data == "ident" and child.children:
            return str(child.children[0])
    return None


def _root_ident(member: Tree[Any]) -> str | None:
    """Return ``artifacts`` for the tree of a bare ``artifacts`` member, else None."""
    node: Any = member
    while isinstance(node, Tree) and node.data == "member" and len(node.children) == 1:
        node = node.children[0]
    if isinstance(node, Tree) and node.data == "primary":
        return _ident(node)
    return None


def _string_literal(tree: Any) -> str | None:
    for token in tree.scan_values(lambda v: isinstance(v, Token)) if isinstance(tree, Tree) else []:
        if token.type in {"STRING_LIT", "MLSTRING_LIT"}:
            return str(token)[1:-1]
    return None


def _parse_message(source: str, exc: Exception) -> str:
    """Turn celpy's caret drawing into "unexpected ... at column N"."""
    text = str(exc.args[0] if exc.args else exc)
    lines = text.splitlines()
    caret = next((line.index("^") for line in lines if line.strip() == "^"), None)
    if caret is None:
        return text.strip()
    if caret >= len(source.rstrip()):
        return f"the expression ends too early (column {caret + 1})"
    return f"unexpected {source[caret : caret + 12]!r} at column {caret + 1}"


def _eval_message(error: Any) -> str:
    args = getattr(error, "args", ())
    return str(args[0]) if args else str(error)


def to_json(value: Any) -> JSONValue:
    """Convert a CEL result into plain JSON types."""
    if value is None:
        return None
    if isinstance(value, CELEvalError):  # an error inside a list or map literal
        raise ExpressionError(_eval_message(value))
    if isinstance(value, celtypes.BoolType | bool):
        return bool(value)
    if isinstance(value, celtypes.IntType | celtypes.UintType | int):
        return int(value)
    if isinstance(value, celtypes.DoubleType | float):
        return float(value)
    if isinstance(value, celtypes.StringType | str):
        return str(value)
    if isinstance(value, celtypes.BytesType | bytes):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return str(value)
