"""Definition data -> :class:`PipelineSpec`, collecting every problem on the way.

Loading never stops at the first problem: it checks every field it can and
reports all of them, each with its file, line and column.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from segue.errors import PipelineInvalid, Problem
from segue.spec.document import Document, Path, parse_document
from segue.spec.model import PipelineSpec, RetryPolicy, StepKind, StepSpec
from segue.spec.validate import check_pipeline
from segue.types import JSONValue

PIPELINE_FIELDS = (
    "pipeline",
    "version",
    "title",
    "description",
    "config",
    "retry",
    "concurrency",
    "steps",
)
STEP_FIELDS = (
    "id",
    "type",
    "depends_on",
    "title",
    "description",
    "when",
    "run",
    "with",
    "input_schema",
    "prefill",
    "retry",
    "timeout",
    "on_timeout",
    "concurrency",
    "executor",
    "roles",
)
RETRY_FIELDS = ("max_attempts", "backoff", "initial_delay", "max_delay", "jitter")
ON_TIMEOUT = ("fail", "skip", "use_prefill")
EXECUTORS = ("thread", "process")
ID_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}

HandlerCheck = Callable[[str], str | None]
"""Given a ``run`` reference, return None if it resolves, else why it does not."""


def load_pipeline(
    text: str, filename: str | None = None, *, check_handler: HandlerCheck | None = None
) -> PipelineSpec:
    """Parse, build and validate a definition.

    Raises:
        PipelineInvalid: with every problem found, each located in the text.
    """
    doc = parse_document(text, filename)
    spec = build(doc)
    problems = list(doc.problems)
    if spec is not None:
        problems += check_pipeline(spec, doc, check_handler)
    if problems or spec is None:
        raise PipelineInvalid(_sorted(problems))
    return spec


def content_hash(data: JSONValue) -> str:
    """sha256 of the canonical JSON form (sorted keys, no spaces, UTF-8)."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line or 0, p.column or 0))


def build(doc: Document) -> PipelineSpec | None:
    """Build the spec from parsed data; field problems go to ``doc.problems``."""
    data = doc.data
    if not isinstance(data, dict):
        doc.problems.append(
            doc.problem(
                (), "the definition must be a mapping with 'pipeline', 'version' and 'steps'"
            )
        )
        return None
    _unknown_fields(doc, data, (), PIPELINE_FIELDS)
    name = data.get("pipeline")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        doc.problems.append(
            doc.problem(
                ("pipeline",),
                "'pipeline' must be a name of letters, digits, '_', '-' or '.' (at most 100)",
            )
        )
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version < 2**31:
        doc.problems.append(
            doc.problem(("version",), "'version' must be a positive integer below 2^31")
        )
    config = data.get("config", {"type": "object"})
    if not isinstance(config, dict):
        doc.problems.append(doc.problem(("config",), "'config' must be a JSON Schema object"))
        config = {"type": "object"}
    retry = _retry(doc, data.get("retry"), ("retry",)) or RetryPolicy()
    concurrency = _positive(doc, data.get("concurrency"), ("concurrency",), "concurrency")
    steps = _steps(doc, data.get("steps"))
    if steps is None:
        return None
    return PipelineSpec(
        name=name if isinstance(name, str) else "?",
        version=version if isinstance(version, int) else 0,
        steps=steps,
        title=_text(doc, data, "title", ()),
        description=_text(doc, data, "description", ()),
        config_schema=config,
        retry=retry,
        concurrency=concurrency,
        content_hash=content_hash(data),
        source=data,
    )


def _positive(doc: Document, value: Any, path: Path, name: str) -> int | None:
    """An optional positive integer field (a problem, and None, when it is anything else)."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        doc.problems.append(doc.problem(path, f"'{name}' must be a positive integer"))
        return None
    return value


def _steps(doc: Document, raw: Any) -> tuple[StepSpec, ...] | None:
    if not isinstance(raw, list) or not raw:
        doc.problems.append(doc.problem(("steps",), "'steps' must be a non-empty list of steps"))
        return None
    steps: list[StepSpec] = []
    previous: str | None = None
    for index, item in enumerate(raw):
        path: Path = ("steps", index)
        if not isinstance(item, dict):
            doc.problems.append(
                doc.problem(path, "each step must be a mapping with 'id' and 'type'")
            )
            item = {}
        step = _step(doc, item, path, previous, index)
        steps.append(step)
        previous = step.id
    return tuple(steps)


def _step(
    doc: Document, item: dict[str, Any], path: Path, previous: str | None, index: int
) -> StepSpec:
    """A step; fields with problems get stand-in values so the whole-pipeline checks can
    still run and report everything else at once."""  # noqa: D205,D209
    _unknown_fields(doc, item, path, STEP_FIELDS)
    step_id = item.get("id")
    if not isinstance(step_id, str) or not ID_PATTERN.match(step_id):
        doc.problems.append(
            doc.problem(
                (*path, "id"),
                "a step 'id' must be text that starts with a letter or '_' and holds only "
                "letters, digits and '_' (at most 64 characters; quote ids like 'on')",
            )
        )
        step_id = f"_step{index}"
    kind_raw = item.get("type")
    if kind_raw not in ("auto", "wait_user"):
        if item:
            doc.problems.append(
                doc.problem((*path, "type"), "'type' must be 'auto' or 'wait_user'")
            )
        doc.unknown_kind.add(step_id)
        kind_raw = "auto"
    depends = _depends(doc, item, path, previous)
    params = item.get("with", {})
    if not isinstance(params, dict):
        doc.problems.append(doc.problem((*path, "with"), "'with' must be a mapping of parameters"))
        params = {}
    schema = item.get("input_schema")
    if schema is not None and not isinstance(schema, dict):
        doc.problems.append(
            doc.problem((*path, "input_schema"), "'input_schema' must be a JSON Schema object")
        )
        schema = {}
    on_timeout = item.get("on_timeout", "fail")
    if on_timeout not in ON_TIMEOUT:
        doc.problems.append(
            doc.problem(
                (*path, "on_timeout"), "'on_timeout' must be one of " + ", ".join(ON_TIMEOUT)
            )
        )
        on_timeout = "fail"
    concurrency = _positive(doc, item.get("concurrency"), (*path, "concurrency"), "concurrency")
    executor = item.get("executor", "thread")
    if executor not in EXECUTORS:
        doc.problems.append(
            doc.problem((*path, "executor"), "'executor' must be one of " + ", ".join(EXECUTORS))
        )
        executor = "thread"
    roles = item.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) and r for r in roles):
        doc.problems.append(doc.problem((*path, "roles"), "'roles' must be a list of role names"))
        roles = []
    retry = _retry(doc, item.get("retry"), (*path, "retry"))
    timeout = _duration(doc, item.get("timeout"), (*path, "timeout"))
    texts = {
        key: _text(doc, item, key, path)
        for key in ("title", "description", "when", "run", "prefill")
    }
    return StepSpec(
        id=step_id,
        kind=StepKind(kind_raw),
        depends_on=depends,
        title=texts["title"],
        description=texts["description"],
        when=texts["when"],
        run=texts["run"],
        params=params,
        input_schema=schema,
        prefill=texts["prefill"],
        retry=retry,
        timeout_s=timeout,
        on_timeout=on_timeout,
        concurrency=concurrency,
        executor=executor,
        roles=tuple(roles),
    )


def _depends(
    doc: Document, item: dict[str, Any], path: Path, previous: str | None
) -> tuple[str, ...]:
    if "depends_on" not in item:
        return (previous,) if previous is not None else ()
    raw = item["depends_on"]
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(d, str) for d in raw):
        doc.problems.append(
            doc.problem((*path, "depends_on"), "'depends_on' must be a list of step ids")
        )
        return ()
    return tuple(dict.fromkeys(raw))


def _text(doc: Document, item: dict[str, Any], key: str, path: Path) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        doc.problems.append(doc.problem((*path, key), f"'{key}' must be a non-empty string"))
        return None
    return value


def _unknown_fields(
    doc: Document, item: dict[str, Any], path: Path, known: tuple[str, ...]
) -> None:
    for key in item:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = (
                f" (did you mean '{close[0]}'?)" if close else f"; known fields: {', '.join(known)}"
            )
            doc.problems.append(
                doc.problem((*path, key), f"unknown field '{key}'{hint}", at_key=True)
            )


def _retry(doc: Document, raw: Any, path: Path) -> RetryPolicy | None:
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = {"max_attempts": raw}
    if not isinstance(raw, dict):
        doc.problems.append(
            doc.problem(
                path,
                "'retry' must be a mapping (max_attempts, backoff, "
                "initial_delay, max_delay, jitter)",
            )
        )
        return None
    _unknown_fields(doc, raw, path, RETRY_FIELDS)
    attempts = raw.get("max_attempts", 1)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= 100:
        doc.problems.append(
            doc.problem((*path, "max_attempts"), "'max_attempts' must be an integer from 1 to 100")
        )
        attempts = 1
    backoff = raw.get("backoff", "exponential")
    if backoff not in ("fixed", "exponential"):
        doc.problems.append(
            doc.problem((*path, "backoff"), "'backoff' must be 'fixed' or 'exponential'")
        )
        backoff = "exponential"
    initial = _duration(doc, raw.get("initial_delay"), (*path, "initial_delay"))
    maximum = _duration(doc, raw.get("max_delay"), (*path, "max_delay"))
    jitter = raw.get("jitter", 0.0)
    if isinstance(jitter, bool):
        jitter = 0.5 if jitter else 0.0
    if not isinstance(jitter, int | float) or not 0 <= jitter <= 1:
        doc.problems.append(
            doc.problem(
                (*path, "jitter"), "'jitter' must be a number from 0 to 1 (or true for 0.5)"
            )
        )
        jitter = 0.0
    defaults = RetryPolicy()
    return RetryPolicy(
        max_attempts=attempts,
        backoff=backoff,
        initial_delay_s=defaults.initial_delay_s if initial is None else initial,
        max_delay_s=defaults.max_delay_s if maximum is None else maximum,
        jitter=float(jitter),
    )


def _duration(doc: Document, raw: Any, path: Path) -> float | None:
    """Seconds from ``30``, ``1.5``, ``"500ms"``, ``"2m"``, ``"1h30m"``."""
    if raw is None:
        return None
    seconds = parse_duration(raw)
    if seconds is None:
        doc.problems.append(
            doc.problem(
                path,
                f"'{path[-1]}' must be a duration such as 30s, "
                "500ms, 2m or 1h (or a number of seconds)",
            )
        )
    return seconds


def parse_duration(raw: Any) -> float | None:
    """Return seconds for a duration value, or None if it is not one."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return float(raw) if raw >= 0 else None
    if not isinstance(raw, str) or not raw.strip():
        return None
    text = raw.strip().replace(" ", "")
    total, pos = 0.0, 0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return total if pos == len(text) else None
