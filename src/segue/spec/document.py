"""YAML/JSON text -> plain data, remembering where every value came from.

PyYAML's composer gives nodes with line and column marks; we turn them into
plain Python data and a map from each value's path to its position, so that
every later problem can say ``file:line:column``. Duplicate keys, which YAML
loaders usually let the last one win, are reported as problems.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import yaml

from segue.errors import PipelineInvalid, Problem
from segue.types import JSONValue

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Document:
    """Parsed definition data with positions (1-based line, column) by path."""

    data: JSONValue
    filename: str | None
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[Path, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    unknown_kind: set[str] = field(default_factory=set)
    """Steps whose ``type`` is missing or wrong: their kind-specific checks are skipped."""

    def problem(self, path: Path, message: str, *, at_key: bool = False) -> Problem:
        """Make a problem located at ``path`` (its key when ``at_key``)."""
        table = self.key_positions if at_key else self.positions
        where = table.get(path) or self.positions.get(path) or self._nearest(path)
        line, column = where if where else (None, None)
        return Problem(
            message=message, path=format_path(path), file=self.filename, line=line, column=column
        )

    def _nearest(self, path: Path) -> tuple[int, int] | None:
        while path:
            path = path[:-1]
            if path in self.positions:
                return self.positions[path]
        return None


def format_path(path: Path) -> str:
    """Render ``("steps", 3, "input_schema")`` as ``steps[3].input_schema``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def parse_document(text: str, filename: str | None = None) -> Document:
    """Parse YAML (or JSON, a subset of it) into a :class:`Document`.

    Raises:
        PipelineInvalid: the text is not well-formed YAML or JSON.
    """
    if filename is not None and filename.endswith(".json"):
        _check_json(text, filename)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise PipelineInvalid(
            [
                Problem(
                    message=f"not valid YAML: {exc.problem or exc.context}",
                    file=filename,
                    line=mark.line + 1 if mark else None,
                    column=mark.column + 1 if mark else None,
                )
            ]
        ) from exc
    except yaml.YAMLError as exc:
        raise PipelineInvalid([Problem(message=f"not valid YAML: {exc}", file=filename)]) from exc
    except RecursionError as exc:
        raise PipelineInvalid(
            [
                Problem(
                    message=f"the definition is nested more than {MAX_DEPTH} levels deep",
                    file=filename,
                )
            ]
        ) from exc
    doc = Document(data=None, filename=filename)
    if node is None:
        raise PipelineInvalid([Problem(message="the definition is empty", file=filename)])
    data = _convert(node, (), doc)
    return Document(data, filename, doc.positions, doc.key_positions, doc.problems)


def _check_json(text: str, filename: str) -> None:
    try:
        json.loads(text)
    except RecursionError as exc:
        raise PipelineInvalid(
            [
                Problem(
                    message=f"the definition is nested more than {MAX_DEPTH} levels deep",
                    file=filename,
                )
            ]
        ) from exc
    except json.JSONDecodeError as exc:
        raise PipelineInvalid(
            [
                Problem(
                    message=f"not valid JSON: {exc.msg}",
                    file=filename,
                    line=exc.lineno,
                    column=exc.colno,
                )
            ]
        ) from exc


_CONSTRUCTOR = yaml.SafeLoader("")


MAX_NODES = 100_000
"""More values than this (say, from aliases expanding aliases) is refused, not expanded."""
MAX_DEPTH = 64
"""Nesting deeper than this (say, a recursive alias) is refused."""


def _convert(node: yaml.Node, path: Path, doc: Document) -> JSONValue:
    where = (node.start_mark.line + 1, node.start_mark.column + 1)
    if len(path) > MAX_DEPTH or len(doc.positions) >= MAX_NODES:
        what = (
            f"nested more than {MAX_DEPTH} levels deep"
            if len(path) > MAX_DEPTH
            else (f"more than {MAX_NODES} values")
        )
        raise PipelineInvalid(
            [
                Problem(
                    message=f"the definition is {what} (a recursive or exploding YAML alias?)",
                    file=doc.filename,
                    line=where[0],
                    column=where[1],
                )
            ]
        )
    doc.positions[path] = where
    if isinstance(node, yaml.MappingNode):
        out: dict[str, JSONValue] = {}
        for key_node, value_node in node.value:
            key = _CONSTRUCTOR.construct_object(key_node, deep=True)
            key = str(key)
            child = (*path, key)
            if key in out:
                first = doc.key_positions[child][0]
                line = key_node.start_mark.line + 1
                doc.problems.append(
                    Problem(
                        message=f"key '{key}' appears twice (lines {first} and {line})",
                        path=format_path(child),
                        file=doc.filename,
                        line=line,
                        column=key_node.start_mark.column + 1,
                    )
                )
            doc.key_positions[child] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
            out[key] = _convert(value_node, child, doc)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), doc) for i, item in enumerate(node.value)]
    value = _CONSTRUCTOR.construct_object(node, deep=True)
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    # Dates, binary and other YAML-only scalars become their text form.
    return str(node.value)
