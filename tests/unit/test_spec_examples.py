"""Loading definitions: the shared examples, hand-made bad inputs, hashing, durations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from segue.errors import PipelineInvalid, Problem
from segue.runtime.handlers import HandlerRegistry
from segue.spec import content_hash, load_pipeline, parse_duration

EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "examples"
INVALID = EXAMPLES / "invalid"

HEAD = "pipeline: p\nversion: 1\nsteps:\n"
STEPS_A = "steps:\n  - {id: a, type: auto, run: m:f}\n"


def example(name: str) -> Path:
    """Return a shared example file, skipping the test when the shared folder is absent."""
    if not EXAMPLES.is_dir():
        pytest.skip(f"shared examples not found at {EXAMPLES}")
    path = EXAMPLES / name
    if not path.is_file():
        pytest.skip(f"shared example {name} not found")
    return path


def load_file(path: Path):
    """Load a file as the registry would, with the handler check on."""
    return load_pipeline(path.read_text(), path.name, check_handler=HandlerRegistry().check)


def problems_of(text: str, filename: str | None = "p.yaml") -> tuple[Problem, ...]:
    """Return the problems of a definition that must be rejected."""
    with pytest.raises(PipelineInvalid) as info:
        load_pipeline(text, filename)
    assert info.value.problems, "PipelineInvalid must carry at least one problem"
    return info.value.problems


def file_problems(name: str) -> tuple[Problem, ...]:
    """Return the problems of a shared invalid example."""
    path = example(f"invalid/{name}")
    with pytest.raises(PipelineInvalid) as info:
        load_file(path)
    return info.value.problems


def find(problems: tuple[Problem, ...], fragment: str) -> Problem:
    """Return the one problem whose message contains ``fragment``."""
    hits = [p for p in problems if fragment in p.message]
    assert hits, f"no problem mentions {fragment!r}: {[p.message for p in problems]}"
    return hits[0]


# --- the shared invalid examples --------------------------------------------------------


def invalid_files() -> list[str]:
    """Every shared invalid example, by file name (empty when the folder is missing)."""
    return sorted(p.name for p in INVALID.glob("*.yaml")) if INVALID.is_dir() else []


@pytest.mark.parametrize("name", invalid_files() or ["<missing>"])
def test_every_invalid_example_is_rejected(name: str) -> None:
    """Each file in examples/invalid raises PipelineInvalid with located problems."""
    if name == "<missing>":
        pytest.skip("shared invalid examples not found")
    problems = file_problems(name)
    for problem in problems:
        assert problem.file == name
        assert problem.line is not None and problem.line >= 1


@pytest.mark.parametrize("name", invalid_files() or ["<missing>"])
def test_every_invalid_example_states_its_expectation(name: str) -> None:
    """Each invalid example opens with an 'Expected:' comment (so its test below is meaningful)."""
    if name == "<missing>":
        pytest.skip("shared invalid examples not found")
    first = (INVALID / name).read_text().splitlines()[0]
    assert first.startswith("# Expected:")


def test_cycle_is_named_in_execution_order() -> None:
    """cycle.yaml is rejected naming the cycle a -> b -> c -> a."""
    problem = find(file_problems("cycle.yaml"), "a -> b -> c -> a")
    assert "cycle" in problem.message


def test_cycle_is_reported_once() -> None:
    """A three-step cycle is one problem, not one per step."""
    problems = file_problems("cycle.yaml")
    assert len([p for p in problems if "cycle" in p.message]) == 1


def test_duplicate_id_names_both_lines() -> None:
    """duplicate_id.yaml: step id 'a' is defined twice (lines 5 and 6)."""
    problem = find(
        file_problems("duplicate_id.yaml"), "step id 'a' is defined twice (lines 5 and 6)"
    )
    assert problem.line == 6


def test_typo_field_points_at_line_9_with_suggestion() -> None:
    """typo_field.yaml: unknown field 'depend_on' at line 9, did you mean 'depends_on'."""
    problem = find(file_problems("typo_field.yaml"), "did you mean 'depends_on'")
    assert "unknown field 'depend_on'" in problem.message
    assert problem.line == 9
    assert problem.column == 5
    assert problem.path == "steps[1].depend_on"


def test_unknown_dependency_is_named() -> None:
    """unknown_dep.yaml: step 'b' depends on unknown step 'x'."""
    problem = find(file_problems("unknown_dep.yaml"), "unknown step 'x'")
    assert "step 'b'" in problem.message
    assert problem.line == 6


def test_wait_step_without_schema_is_rejected() -> None:
    """wait_without_schema.yaml: wait_user step 'confirm' has no input_schema."""
    problem = find(file_problems("wait_without_schema.yaml"), "has no input_schema")
    assert "'confirm'" in problem.message
    assert problem.line == 6


def test_bad_schema_names_the_unknown_type() -> None:
    """bad_schema.yaml: the input_schema of 'confirm' needs 'type' to be a known type."""
    problem = find(file_problems("bad_schema.yaml"), "'type' must be a known type")
    assert "input_schema of step 'confirm'" in problem.message
    assert "objekt" in problem.message
    assert problem.line == 8


def test_bad_expression_names_the_when_of_step_b() -> None:
    """bad_expression.yaml: the 'when' of step 'b' does not compile."""
    problem = find(file_problems("bad_expression.yaml"), "the 'when' of step 'b'")
    assert "does not compile" in problem.message or "nosuch" in problem.message
    assert problem.path == "steps[1].when"
    assert problem.line == 6


# --- the shared valid examples ---------------------------------------------------------


def test_fan_in_example_loads() -> None:
    """fan_in.yaml loads with its handlers checked, keeping its five steps in order."""
    spec = load_file(example("fan_in.yaml"))
    assert spec.name == "fan_in"
    assert spec.step_ids == ("start", "left", "right", "review", "join")
    assert spec.step("join").depends_on == ("left", "right", "review")


@pytest.mark.parametrize("name", ["doc_ingest.yaml", "doc_ingest_v2.yaml"])
def test_document_examples_load_with_their_handlers_checked(name: str) -> None:
    """The document pipelines' handlers (segue.docs.handlers) import and are callable."""
    spec = load_file(example(name))
    assert {s.run for s in spec.steps if s.run} == {
        f"segue.docs.handlers:{h}" for h in ("ingest", "draft_outline", "split", "embed")
    }


@pytest.mark.parametrize("name", ["doc_ingest.yaml", "doc_ingest_v2.yaml"])
def test_document_examples_load_without_the_handler_check(name: str) -> None:
    """Apart from the handlers, the document pipelines are valid definitions."""
    path = example(name)
    spec = load_pipeline(path.read_text(), path.name)
    assert spec.name == "doc_ingest"


# --- bad inputs of our own -------------------------------------------------------------


def test_duplicate_yaml_key_is_rejected() -> None:
    """A mapping key given twice is a problem, not silently 'last one wins'."""
    text = "pipeline: p\nversion: 1\nversion: 2\nsteps:\n  - {id: a, type: auto, run: m:f}\n"
    find(problems_of(text), "key 'version' appears twice (lines 2 and 3)")


def test_duplicate_key_inside_a_step_is_rejected() -> None:
    """Duplicate keys are caught at any depth."""
    text = HEAD + "  - id: a\n    type: auto\n    run: m:f\n    run: m:g\n"
    find(problems_of(text), "key 'run' appears twice (lines 6 and 7)")


@pytest.mark.parametrize("text", ["- a\n- b\n", "hello\n", "42\n"])
def test_definition_must_be_a_mapping(text: str) -> None:
    """A list or a scalar at the top is rejected."""
    find(problems_of(text), "must be a mapping")


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n"])
def test_empty_definition_is_rejected(text: str) -> None:
    """Empty text (or only comments) says the definition is empty."""
    find(problems_of(text), "the definition is empty")


def test_invalid_yaml_reports_line_and_column() -> None:
    """A YAML syntax error is one problem with the line and column of the fault."""
    (problem,) = problems_of("pipeline: p\n  version: 1\n")
    assert problem.message.startswith("not valid YAML")
    assert (problem.line, problem.column) == (2, 10)
    assert problem.file == "p.yaml"


def test_unclosed_flow_mapping_reports_a_line() -> None:
    """An unclosed '{' is reported at the end of the text."""
    (problem,) = problems_of(HEAD + "  - {id: a, type: auto\n")
    assert problem.message.startswith("not valid YAML")
    assert problem.line == 5


def test_undefined_alias_is_reported() -> None:
    """An alias to an anchor that does not exist is a YAML problem with a line."""
    (problem,) = problems_of("pipeline: p\nversion: 1\nsteps: *nowhere\n")
    assert problem.message.startswith("not valid YAML")
    assert problem.line == 3


def test_recursive_alias_is_rejected_not_crashing() -> None:
    """A self-referencing alias is rejected with PipelineInvalid, not a RecursionError."""
    problems_of("pipeline: p\nversion: 1\nx: &a [*a]\nsteps: []\n")


def test_json_syntax_error_is_reported_as_json() -> None:
    """A .json file with a syntax error gets the JSON parser's line and column."""
    text = '{\n  "pipeline": "p",\n  "version": 1\n  "steps": []\n}\n'
    (problem,) = problems_of(text, "p.json")
    assert problem.message.startswith("not valid JSON")
    assert (problem.line, problem.column) == (4, 3)
    assert problem.file == "p.json"


def test_json_trailing_comma_is_rejected() -> None:
    """JSON that YAML would accept (a trailing comma) is still rejected in a .json file."""
    (problem,) = problems_of('{"pipeline": "p",}', "p.json")
    assert problem.message.startswith("not valid JSON")


def test_unknown_name_in_expression() -> None:
    """'confg.x' is caught at load time as an unknown name."""
    text = HEAD + "  - {id: a, type: auto, run: m:f, when: 'confg.x'}\n"
    problem = find(problems_of(text), "uses unknown name 'confg'")
    assert problem.path == "steps[0].when"


def test_expression_naming_unknown_step() -> None:
    """An expression reading artifacts of a step that does not exist is rejected."""
    text = HEAD + "  - {id: a, type: auto, run: m:f, when: 'artifacts.zzz.ok'}\n"
    find(problems_of(text), "names unknown step 'zzz'")


def test_expression_reading_a_step_that_is_not_upstream() -> None:
    """A condition may read only steps it (transitively) depends on."""
    text = HEAD + (
        "  - {id: a, type: auto, run: m:f, depends_on: []}\n"
        "  - {id: b, type: auto, run: m:f, depends_on: []}\n"
        "  - {id: c, type: auto, run: m:f, depends_on: [a], when: 'artifacts.b.ok'}\n"
    )
    problem = find(problems_of(text), "reads step 'b', which is not upstream of 'c'")
    assert problem.line == 6


def test_expression_reading_a_transitive_ancestor_is_allowed() -> None:
    """Reading a grandparent step's artifact needs no direct dependency."""
    text = HEAD + (
        "  - {id: a, type: auto, run: m:f, depends_on: []}\n"
        "  - {id: b, type: auto, run: m:f}\n"
        "  - {id: c, type: auto, run: m:f, when: 'artifacts.a.ok'}\n"
    )
    assert load_pipeline(text).step("c").when == "artifacts.a.ok"


def test_prefill_expression_is_checked_too() -> None:
    """A prefill that reads a downstream step is rejected like a condition."""
    text = HEAD + (
        "  - {id: w, type: wait_user, depends_on: [], prefill: 'artifacts.a', "
        "input_schema: {type: object}}\n"
        "  - {id: a, type: auto, run: m:f}\n"
    )
    find(problems_of(text), "the 'prefill' of step 'w' reads step 'a'")


def test_macro_variables_are_not_unknown_names() -> None:
    """A comprehension variable (exists(x, ...)) is bound by the macro, not an unknown root."""
    text = HEAD + (
        "  - {id: a, type: auto, run: m:f, depends_on: []}\n"
        "  - {id: b, type: auto, run: m:f, when: 'artifacts.a.items.exists(x, x > 1)'}\n"
    )
    assert load_pipeline(text).step("b").when is not None


def test_auto_step_without_run() -> None:
    """An auto step must name a handler."""
    find(problems_of(HEAD + "  - {id: a, type: auto}\n"), "auto step 'a' has no 'run' handler")


def test_wait_step_with_run() -> None:
    """'run' belongs to auto steps only."""
    text = HEAD + "  - {id: a, type: wait_user, run: m:f, input_schema: {type: object}}\n"
    problem = find(problems_of(text), "'run' belongs to auto steps")
    assert problem.path == "steps[0].run"


def test_wait_step_with_parameters() -> None:
    """'with' belongs to auto steps only."""
    text = HEAD + "  - {id: a, type: wait_user, with: {x: 1}, input_schema: {type: object}}\n"
    find(problems_of(text), "'with' belongs to auto steps")


def test_auto_step_with_input_schema() -> None:
    """'input_schema' belongs to wait_user steps only."""
    text = HEAD + "  - {id: a, type: auto, run: m:f, input_schema: {type: object}}\n"
    find(problems_of(text), "'input_schema' belongs to wait_user steps")


@pytest.mark.parametrize("value", ["soon", "-5s", "'10'", "true", "1x"])
def test_bad_timeout(value: str) -> None:
    """A timeout that is not a duration is rejected at its position."""
    text = HEAD + f"  - {{id: a, type: auto, run: m:f, timeout: {value}}}\n"
    problem = find(problems_of(text), "'timeout' must be a duration")
    assert problem.path == "steps[0].timeout"


def test_bad_retry_fields_are_all_reported() -> None:
    """Every bad retry field is reported in one go, each at its own path."""
    text = HEAD + (
        "  - id: a\n    type: auto\n    run: m:f\n    retry:\n"
        "      max_attempts: 0\n      backoff: linear\n      jitter: 2\n"
        "      initial_delay: later\n      tries: 3\n"
    )
    problems = problems_of(text)
    paths = {p.path for p in problems}
    assert {
        "steps[0].retry.max_attempts",
        "steps[0].retry.backoff",
        "steps[0].retry.jitter",
        "steps[0].retry.initial_delay",
        "steps[0].retry.tries",
    } <= paths
    assert [p.line for p in problems] == [8, 9, 10, 11, 12]


@pytest.mark.parametrize("value", ["101", "true", "lots", "[1]"])
def test_bad_retry_value(value: str) -> None:
    """retry must be a mapping or an attempt count from 1 to 100."""
    text = HEAD + f"  - {{id: a, type: auto, run: m:f, retry: {value}}}\n"
    problems = problems_of(text)
    assert any("retry" in p.path for p in problems)


def test_retry_as_integer_means_max_attempts() -> None:
    """retry: 3 is short for retry: {max_attempts: 3}."""
    spec = load_pipeline(HEAD + "  - {id: a, type: auto, run: m:f, retry: 3}\n")
    assert spec.retry_for(spec.step("a")).max_attempts == 3


def test_retry_durations_are_parsed() -> None:
    """initial_delay and max_delay accept duration strings."""
    text = HEAD + (
        "  - {id: a, type: auto, run: m:f, retry: {max_attempts: 2, initial_delay: 500ms, "
        "max_delay: 1m, jitter: true}}\n"
    )
    policy = load_pipeline(text).step("a").retry
    assert policy is not None
    assert (policy.initial_delay_s, policy.max_delay_s, policy.jitter) == (0.5, 60.0, 0.5)


@pytest.mark.parametrize("value", ["0", "-1", "'1'", "one", "true", "1.5"])
def test_bad_version(value: str) -> None:
    """The version must be a positive integer (not 0, a string, a bool or a float)."""
    text = f"pipeline: p\nversion: {value}\nsteps:\n  - {{id: a, type: auto, run: m:f}}\n"
    problem = find(problems_of(text), "'version' must be a positive integer")
    assert (problem.line, problem.column) == (2, 10)


def test_config_default_must_match_its_schema() -> None:
    """A config default that breaks its own property schema is rejected."""
    text = (
        "pipeline: p\nversion: 1\nconfig:\n  type: object\n  properties:\n"
        "    n: {type: integer, default: 'x'}\nsteps:\n  - {id: a, type: auto, run: m:f}\n"
    )
    problem = find(problems_of(text), "the default of config 'n' breaks its own schema")
    assert problem.path == "config.properties.n.default"
    assert problem.line == 6


def test_config_schema_must_be_valid() -> None:
    """A config schema with an unknown type is rejected."""
    text = "pipeline: p\nversion: 1\nconfig: {type: objekt}\n" + STEPS_A
    find(problems_of(text), "config schema is not a valid JSON Schema")


def test_self_dependency() -> None:
    """A step cannot depend on itself."""
    text = HEAD + "  - {id: a, type: auto, run: m:f, depends_on: [a]}\n"
    find(problems_of(text), "step 'a' depends on itself")


def test_empty_steps() -> None:
    """A pipeline needs at least one step."""
    find(problems_of("pipeline: p\nversion: 1\nsteps: []\n"), "'steps' must be a non-empty list")


def test_bad_step_id() -> None:
    """Step ids are identifiers (usable in expressions)."""
    find(
        problems_of(HEAD + "  - {id: 1a, type: auto, run: m:f}\n"),
        "a step 'id' must be text that starts",
    )


def test_bad_step_type() -> None:
    """type is auto or wait_user."""
    find(problems_of(HEAD + "  - {id: a, type: manual, run: m:f}\n"), "'type' must be 'auto'")


def test_unknown_top_level_field_suggests_the_right_one() -> None:
    """A misspelt top-level field gets a suggestion."""
    find(problems_of("pipeline: p\nversion: 1\nstepz: []\n"), "did you mean 'steps'")


def test_concurrency_must_not_be_a_boolean() -> None:
    """concurrency: true is not a positive integer (bool is not int in JSON)."""
    text = HEAD + "  - {id: a, type: auto, run: m:f, concurrency: true}\n"
    find(problems_of(text), "'concurrency' must be a positive integer")


def test_all_problems_are_reported_at_once() -> None:
    """Loading does not stop at the first problem; problems come sorted by line."""
    text = HEAD + (
        "  - {id: a, type: auto, run: m:f, timeout: soon}\n"
        "  - {id: b, type: auto, run: m:f, concurrency: 0}\n"
        "  - {id: c, type: sometimes, run: m:f}\n"
    )
    problems = problems_of(text)
    assert len(problems) == 3
    assert [p.line for p in problems] == [4, 5, 6]


def test_error_message_summarises_the_first_problem() -> None:
    """str(PipelineInvalid) gives file:line:column of the first problem and the count."""
    with pytest.raises(PipelineInvalid) as info:
        load_pipeline(HEAD + "  - {id: a, type: auto}\n  - {id: b, type: auto}\n", "x.yaml")
    assert "x.yaml:4:5: auto step 'a'" in str(info.value)
    assert "(and 1 more)" in str(info.value)


def test_unresolvable_handler_is_reported() -> None:
    """With the handler check on, a run reference that does not import is a problem."""
    text = HEAD + "  - {id: a, type: auto, run: 'segue.builtins:nope'}\n"
    with pytest.raises(PipelineInvalid) as info:
        load_pipeline(text, check_handler=HandlerRegistry().check)
    find(info.value.problems, "the handler of step 'a' cannot be used")


def test_implicit_dependency_on_previous_step() -> None:
    """A step without depends_on depends on the step before it; depends_on: [] marks a root."""
    text = HEAD + (
        "  - {id: a, type: auto, run: m:f}\n"
        "  - {id: b, type: auto, run: m:f}\n"
        "  - {id: c, type: auto, run: m:f, depends_on: []}\n"
    )
    spec = load_pipeline(text)
    assert [s.depends_on for s in spec.steps] == [(), ("a",), ()]


# --- content hash ----------------------------------------------------------------------

FAN_IN_DATA = {
    "pipeline": "h",
    "version": 1,
    "config": {"type": "object", "properties": {"flag": {"type": "boolean", "default": False}}},
    "steps": [
        {"id": "a", "type": "auto", "depends_on": [], "run": "segue.builtins:passthrough"},
        {
            "id": "b",
            "type": "wait_user",
            "when": "config.flag",
            "input_schema": {"type": "object", "required": ["ok"]},
        },
        {
            "id": "c",
            "type": "auto",
            "run": "segue.builtins:passthrough",
            "retry": {"max_attempts": 2},
        },
    ],
}


def test_yaml_and_json_definitions_hash_alike() -> None:
    """The same definition written as YAML (with comments) and as JSON has one content hash."""
    as_yaml = "# a comment\n" + yaml.safe_dump(FAN_IN_DATA, sort_keys=False)
    as_json = json.dumps(FAN_IN_DATA, indent=2)
    from_yaml = load_pipeline(as_yaml, "h.yaml")
    from_json = load_pipeline(as_json, "h.json")
    assert from_yaml.content_hash == from_json.content_hash
    assert from_yaml.content_hash == content_hash(FAN_IN_DATA)


def test_key_order_does_not_change_the_hash() -> None:
    """The hash is of the canonical form, so key order does not matter."""
    reordered = dict(reversed(list(FAN_IN_DATA.items())))
    assert content_hash(reordered) == content_hash(FAN_IN_DATA)


def test_a_changed_definition_changes_the_hash() -> None:
    """Any change in content gives a different hash."""
    changed = {**FAN_IN_DATA, "version": 2}
    assert content_hash(changed) != content_hash(FAN_IN_DATA)


def test_content_hash_is_sha256_hex() -> None:
    """The hash is 64 lowercase hex digits."""
    digest = content_hash(FAN_IN_DATA)
    assert len(digest) == 64
    assert digest == digest.lower()
    int(digest, 16)


def test_spec_keeps_its_source() -> None:
    """A loaded spec carries the definition as plain data."""
    spec = load_pipeline(json.dumps(FAN_IN_DATA), "h.json")
    assert spec.source == FAN_IN_DATA


# --- durations -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        (30, 30.0),
        (0, 0.0),
        (1.5, 1.5),
        ("500ms", 0.5),
        ("30s", 30.0),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        (" 2s ", 2.0),
        ("1.5h", 5400.0),
        ("1m30s500ms", 90.5),
    ],
)
def test_parse_duration_accepts(raw: object, seconds: float) -> None:
    """Numbers are seconds; strings are amounts with ms, s, m or h units."""
    assert parse_duration(raw) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "soon",
        "10",
        "1x",
        "m",
        "s30",
        "-5s",
        "5 s x",
        -1,
        -0.5,
        True,
        False,
        None,
        [1],
        {},
    ],
)
def test_parse_duration_rejects(raw: object) -> None:
    """Anything else is not a duration (None), including negatives and booleans."""
    assert parse_duration(raw) is None


def test_a_bad_step_type_does_not_hide_the_other_problems() -> None:
    """One step with an unknown type still lets every other problem be reported."""
    text = HEAD + (
        "  - {id: a, type: weird, run: m:f}\n"
        "  - {id: w, type: wait_user}\n"
        "  - {id: b, type: auto, depends_on: [nope], run: m:f}\n"
    )
    problems = problems_of(text)
    find(problems, "'type' must be 'auto' or 'wait_user'")
    find(problems, "wait_user step 'w' has no input_schema")
    find(problems, "unknown step 'nope'")
