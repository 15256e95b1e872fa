"""Whole-pipeline checks: ids, dependencies, cycles, schemas, expressions, handlers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from segue.errors import Problem
from segue.spec.document import Document, Path
from segue.spec.expr import ROOT_NAMES, ExpressionError, compile_expression
from segue.spec.model import PipelineSpec, StepKind, StepSpec

JSON_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")


def check_pipeline(
    spec: PipelineSpec, doc: Document, check_handler: Callable[[str], str | None] | None
) -> list[Problem]:
    """Return every problem of a built spec (an empty list when it is valid)."""
    problems: list[Problem] = []
    problems += _duplicates(spec, doc)
    problems += _dependencies(spec, doc)
    problems += _cycles(spec, doc)
    problems += _schema_problems(doc, spec.config_schema, ("config",), "config schema")
    problems += _config_defaults(spec, doc)
    ancestors = ancestors_of(spec)
    for index, step in enumerate(spec.steps):
        path: Path = ("steps", index)
        if step.id not in doc.unknown_kind:
            problems += _kind_fields(step, doc, path)
        if step.input_schema is not None:
            problems += _schema_problems(
                doc, step.input_schema, (*path, "input_schema"), f"input_schema of step '{step.id}'"
            )
        for key in ("when", "prefill"):
            source = getattr(step, key)
            if source is not None:
                problems += _expression(doc, step, key, source, (*path, key), ancestors, spec.steps)
        if step.run is not None and check_handler is not None:
            why = check_handler(step.run)
            if why is not None:
                problems.append(
                    doc.problem(
                        (*path, "run"), f"the handler of step '{step.id}' cannot be used: {why}"
                    )
                )
    return problems


def ancestors_of(spec: PipelineSpec) -> dict[str, frozenset[str]]:
    """Map each step id to every step it depends on, directly or not (cycles tolerated)."""
    direct = {step.id: set(step.depends_on) for step in spec.steps}
    result: dict[str, frozenset[str]] = {}
    for step_id in direct:
        seen: set[str] = set()
        stack = list(direct[step_id])
        while stack:
            dep = stack.pop()
            if dep not in seen and dep in direct:
                seen.add(dep)
                stack.extend(direct[dep])
        result[step_id] = frozenset(seen - {step_id})
    return result


def _duplicates(spec: PipelineSpec, doc: Document) -> Iterable[Problem]:
    first: dict[str, int] = {}
    for index, step in enumerate(spec.steps):
        if step.id in first:
            line_a = doc.positions.get(("steps", first[step.id]), (0, 0))[0]
            line_b = doc.positions.get(("steps", index), (0, 0))[0]
            yield doc.problem(
                ("steps", index, "id"),
                f"step id '{step.id}' is defined twice (lines {line_a} and {line_b})",
            )
        else:
            first[step.id] = index


def _dependencies(spec: PipelineSpec, doc: Document) -> Iterable[Problem]:
    known = set(spec.step_ids)
    duplicated = {i for i in known if spec.step_ids.count(i) > 1}
    for index, step in enumerate(spec.steps):
        for dep in step.depends_on:
            if dep == step.id and step.id in duplicated:
                continue  # already reported as a duplicate id
            if dep == step.id:
                yield doc.problem(
                    ("steps", index, "depends_on"), f"step '{step.id}' depends on itself"
                )
            elif dep not in known:
                yield doc.problem(
                    ("steps", index, "depends_on"),
                    f"step '{step.id}' depends on unknown step '{dep}'",
                )


def _cycles(spec: PipelineSpec, doc: Document) -> Iterable[Problem]:
    """Report each dependency cycle once, as ``a -> b -> c -> a`` in execution order."""
    deps = {s.id: [d for d in s.depends_on if d != s.id] for s in spec.steps}
    index = {s.id: i for i, s in enumerate(spec.steps)}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    reported: set[frozenset[str]] = set()

    def visit(node: str, trail: list[str]) -> Iterable[Problem]:
        state[node] = 1
        trail.append(node)
        for dep in deps.get(node, []):
            if dep not in deps:
                continue
            if state.get(dep) == 1:
                loop = trail[trail.index(dep) :]
                if frozenset(loop) not in reported:
                    reported.add(frozenset(loop))
                    order = list(reversed(loop))  # dependencies first
                    start = min(range(len(order)), key=lambda i: index[order[i]])
                    order = order[start:] + order[:start]
                    yield doc.problem(
                        ("steps", index[order[0]], "depends_on"),
                        "dependency cycle: " + " -> ".join([*order, order[0]]),
                    )
            elif state.get(dep) is None:
                yield from visit(dep, trail)
        trail.pop()
        state[node] = 2

    for step in spec.steps:
        if state.get(step.id) is None:
            yield from visit(step.id, [])


def _kind_fields(step: StepSpec, doc: Document, path: Path) -> Iterable[Problem]:
    if step.kind is StepKind.AUTO:
        if step.run is None:
            yield doc.problem(
                path, f"auto step '{step.id}' has no 'run' handler (package.module:function)"
            )
        for key in ("input_schema", "prefill", "roles"):
            if getattr(step, key):
                yield doc.problem(
                    (*path, key),
                    f"'{key}' belongs to wait_user steps; auto step '{step.id}' cannot have it",
                )
    else:
        if step.input_schema is None:
            yield doc.problem(path, f"wait_user step '{step.id}' has no input_schema")
        for key, value in (("run", step.run), ("with", step.params or None)):
            if value is not None:
                yield doc.problem(
                    (*path, key),
                    f"'{key}' belongs to auto steps; wait_user step '{step.id}' cannot have it",
                )


def _schema_problems(doc: Document, schema: Any, path: Path, what: str) -> Iterable[Problem]:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        error = exc  # check_schema already picked the most relevant error
        where = (*path, *error.path)
        if error.path and error.path[-1] == "type":
            message = (
                f"the {what} is not a valid JSON Schema: 'type' must be a known type "
                f"({', '.join(JSON_TYPES)}), not {error.instance!r}"
            )
        else:
            message = f"the {what} is not a valid JSON Schema: {error.message}"
        yield doc.problem(where, message)


def _config_defaults(spec: PipelineSpec, doc: Document) -> Iterable[Problem]:
    properties = spec.config_schema.get("properties")
    if not isinstance(properties, dict):
        return
    for name, sub in properties.items():
        if isinstance(sub, dict) and "default" in sub:
            try:
                jsonschema.validate(sub["default"], sub, cls=Draft202012Validator)
            except (jsonschema.ValidationError, SchemaError) as exc:
                yield doc.problem(
                    ("config", "properties", name, "default"),
                    f"the default of config '{name}' breaks its own schema: {exc.message}",
                )


def _expression(
    doc: Document,
    step: StepSpec,
    key: str,
    source: str,
    path: Path,
    ancestors: dict[str, frozenset[str]],
    spec_steps: tuple[StepSpec, ...],
) -> Iterable[Problem]:
    what = f"the '{key}' of step '{step.id}'"
    try:
        expression = compile_expression(source)
    except ExpressionError as exc:
        yield doc.problem(path, f"{what} {exc}")
        return
    for root in sorted(expression.roots - ROOT_NAMES):
        yield doc.problem(
            path,
            f"{what} uses unknown name '{root}' (an expression can read "
            "config, artifacts.<step> and inputs.<step>)",
        )
    known = {other.id for other in spec_steps}
    for name in sorted(expression.steps):
        if name not in known:
            yield doc.problem(path, f"{what} names unknown step '{name}'")
        elif name not in ancestors[step.id]:
            yield doc.problem(
                path,
                f"{what} reads step '{name}', which is not upstream of "
                f"'{step.id}'; add it to depends_on",
            )
