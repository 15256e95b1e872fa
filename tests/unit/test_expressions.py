"""CEL expressions: the names they read, evaluation over JSON, and their errors."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from segue.spec.expr import Expression, ExpressionError, compile_expression

ACTIVATION = {
    "config": {"n": 3, "flag": True, "off": False, "s": "hi", "l": [1, 2, 3], "f": 1.5},
    "artifacts": {"a": {"ok": True, "sections": [{"level": 1}, {"level": 2}]}},
    "inputs": {"w": {"approved": False, "amount": 10}},
}


# --- names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "roots", "steps"),
    [
        ("config.flag", {"config"}, set()),
        ("!config.auto_confirm", {"config"}, set()),
        ("artifacts.a.ok && inputs.w.approved", {"artifacts", "inputs"}, {"a", "w"}),
        ("artifacts['a'].ok", {"artifacts"}, {"a"}),
        ('inputs["w"].amount > 5', {"inputs"}, {"w"}),
        ("artifacts.a.b.c", {"artifacts"}, {"a"}),
        ("artifacts.a", {"artifacts"}, {"a"}),
        ("has(artifacts.a.ok)", {"artifacts"}, {"a"}),
        ("size(artifacts.parse.sections) < config.min", {"artifacts", "config"}, {"parse"}),
        ("1 + 2 == 3", set(), set()),
        ("confg.x", {"confg"}, set()),
        ("config.artifacts.x", {"config"}, set()),
    ],
)
def test_roots_and_steps_are_extracted(source: str, roots: set[str], steps: set[str]) -> None:
    """compile_expression records the top-level names and the steps read."""
    expression = compile_expression(source)
    assert expression.roots == roots
    assert expression.steps == steps


def test_source_is_kept() -> None:
    """The compiled expression remembers its text."""
    assert compile_expression("config.n > 1").source == "config.n > 1"


def test_compilation_is_cached() -> None:
    """The same text compiles once."""
    assert compile_expression("config.n + 41") is compile_expression("config.n + 41")


def test_macro_variable_is_not_a_root() -> None:
    """The variable bound by exists()/all()/map() is not a top-level name."""
    expression = compile_expression("artifacts.a.sections.exists(s, s.level == 1)")
    assert expression.roots == {"artifacts"}


# --- evaluation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("config.n + 1", 4),
        ("config.flag", True),
        ("!config.flag", False),
        ("config.s + '!'", "hi!"),
        ("config.l", [1, 2, 3]),
        ("size(config.l)", 3),
        ("config.f * 2.0", 3.0),
        ("{'k': config.n}", {"k": 3}),
        ("artifacts.a.ok", True),
        ("artifacts.a.sections[1].level", 2),
        ("inputs.w.amount >= 10", True),
        ("null", None),
        ("has(config.missing)", False),
        ("config.l.map(x, x * 2)", [2, 4, 6]),
        ("artifacts.a.sections.exists(s, s.level == 2)", True),
        ("config.n > 2 ? 'big' : 'small'", "big"),
    ],
)
def test_evaluate_returns_plain_json(source: str, value: object) -> None:
    """Evaluation reads plain JSON and returns plain JSON types."""
    result = compile_expression(source).evaluate(ACTIVATION)
    assert result == value
    assert type(result) is type(value)


def test_evaluate_converts_nested_results_to_json() -> None:
    """Lists and maps in a result hold plain Python values, not CEL wrappers."""
    result = compile_expression("artifacts.a").evaluate(ACTIVATION)
    assert result == {"ok": True, "sections": [{"level": 1}, {"level": 2}]}
    assert isinstance(result, dict)
    assert type(result["ok"]) is bool
    assert type(result["sections"][0]["level"]) is int


@pytest.mark.parametrize("source", ["config.flag", "config.n == 3", "!config.off"])
def test_is_true_on_true_condition(source: str) -> None:
    """is_true returns True for a condition that holds."""
    assert compile_expression(source).is_true(ACTIVATION) is True


@pytest.mark.parametrize("source", ["config.off", "config.n < 0", "inputs.w.approved"])
def test_is_true_on_false_condition(source: str) -> None:
    """is_true returns False for a condition that does not hold."""
    assert compile_expression(source).is_true(ACTIVATION) is False


@pytest.mark.parametrize("source", ["config.n", "config.s", "null", "config.l", "artifacts.a"])
def test_is_true_on_non_boolean_raises(source: str) -> None:
    """A condition that gives anything but a boolean is an ExpressionError."""
    with pytest.raises(ExpressionError, match="not true or false"):
        compile_expression(source).is_true(ACTIVATION)


@pytest.mark.parametrize(
    "source",
    ["config.missing", "artifacts.zz.ok", "inputs.w.nope", "artifacts.a.sections[5].level"],
)
def test_missing_field_at_run_time_raises(source: str) -> None:
    """Reading a field that is absent from the data is an ExpressionError."""
    with pytest.raises(ExpressionError):
        compile_expression(source).evaluate(ACTIVATION)


def test_missing_field_in_condition_raises() -> None:
    """is_true propagates a run-time failure as ExpressionError."""
    with pytest.raises(ExpressionError, match="missing"):
        compile_expression("config.missing").is_true(ACTIVATION)


@pytest.mark.parametrize("source", ["config.n / 0", "config.n + 'x'", "config.s > 1"])
def test_run_time_type_or_arithmetic_errors_raise(source: str) -> None:
    """Division by zero and type mismatches are ExpressionErrors, not CEL internals."""
    with pytest.raises(ExpressionError):
        compile_expression(source).evaluate(ACTIVATION)


def test_short_circuit_avoids_the_missing_field() -> None:
    """'false && x' does not need x (CEL short-circuits errors away)."""
    assert compile_expression("config.off && config.missing").is_true(ACTIVATION) is False


# --- compile errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "source", ["artifacts.a.ok &&", "1 +", "(", "a b", ")", "config.", "'open"]
)
def test_invalid_text_does_not_compile(source: str) -> None:
    """Text that is not CEL raises ExpressionError saying it does not compile."""
    with pytest.raises(ExpressionError, match="does not compile"):
        compile_expression(source)


def test_compile_error_names_the_column() -> None:
    """The compile error points at the offending token's column."""
    with pytest.raises(ExpressionError, match=r"unexpected 'b' at column 3"):
        compile_expression("a b")


def test_compile_error_at_the_end_names_the_column() -> None:
    """An expression cut short names where it stopped."""
    with pytest.raises(ExpressionError, match=r"column \d+"):
        compile_expression("artifacts.nosuch.ok &&")


# --- the plain-path shortcut ------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abc"), inner),
    max_leaves=12,
)


def fits_cel(value: object) -> bool:
    if isinstance(value, dict):
        return all(fits_cel(v) for v in value.values())
    if isinstance(value, list):
        return all(fits_cel(v) for v in value)
    return not isinstance(value, int) or isinstance(value, bool) or -(2**63) <= value < 2**63


def test_a_plain_path_to_a_huge_integer_is_refused_as_cel_refuses_it() -> None:
    activation = {"config": {}, "artifacts": {"a": {"n": 2**64, "ok": 1}}, "inputs": {}}
    with pytest.raises(ExpressionError, match="overflow"):
        compile_expression("artifacts.a.n").evaluate(activation)
    assert compile_expression("artifacts.a.ok").evaluate(activation) == 1  # it reads no more


def outcome(expression: Expression, activation: dict[str, object]) -> object:
    try:
        return ("value", expression.evaluate(activation))
    except ExpressionError as exc:
        return ("error", str(exc))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=st.dictionaries(st.sampled_from("abc"), JSON_VALUES, max_size=3),
    path=st.lists(st.sampled_from("abc"), min_size=1, max_size=3),
)
def test_a_plain_path_reads_what_cel_reads(value: dict[str, object], path: list[str]) -> None:
    """``artifacts.x.y`` skips CEL; its value, or its error, is exactly CEL's (where the
    data fits CEL: CEL refuses an integer beyond 64 bits anywhere in what it sees)."""
    assume(fits_cel(value))
    expression = compile_expression(".".join(["artifacts", *path]))
    assert expression._path is not None
    activation = {"config": {}, "artifacts": value, "inputs": {}}
    assert outcome(expression, activation) == outcome(
        dataclasses.replace(expression, _path=None), activation
    )


@pytest.mark.parametrize(
    "source", ["artifacts.a.sections[0]", "size(config.l)", "config.n + 1", "true", "config.in"]
)
def test_anything_but_a_plain_path_goes_through_cel(source: str) -> None:
    try:
        expression = compile_expression(source)
    except ExpressionError:
        return  # not CEL at all ("in" is reserved)
    assert expression._path is None
