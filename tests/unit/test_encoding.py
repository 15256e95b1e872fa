"""The stored text of JSON values: what canonical_json writes and what it refuses."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from segue.encoding import canonical_json, not_json, same_json
from segue.store.tx import loads

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(JSON)
def test_the_text_reads_back_as_the_same_value(value: Any) -> None:
    text = canonical_json(value)
    assert same_json(loads(text), value)
    assert canonical_json(value) == text  # the same value always gets the same text


@given(JSON)
def test_without_floats_the_text_is_the_standard_librarys(value: Any) -> None:
    """Integers, strings (escapes included) and structure are written as json.dumps would."""
    if "." in json.dumps(value) or "e" in json.dumps(value).lower():
        return  # floats (or text that looks like them): orjson's shortest form may differ
    assert canonical_json(value) == json.dumps(
        value, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


@given(JSON, st.sampled_from([math.nan, math.inf, -math.inf]))
def test_nan_and_the_infinities_are_refused_wherever_they_are(value: Any, bad: float) -> None:
    for wrapped in ([value, bad], {"a": value, "b": [None, bad]}, bad):
        with pytest.raises(ValueError, match="Out of range float values"):
            canonical_json(wrapped)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (datetime(2024, 1, 1, tzinfo=UTC), "datetime is not JSON serializable"),
        ({1, 2}, "set is not JSON serializable"),
        ("\ud800", "lone surrogate"),
        ([None, math.nan], "NaN or an infinite number"),
    ],
)
def test_what_is_not_json_is_named(value: Any, why: str) -> None:
    reason = not_json(value)
    assert reason is not None and why in reason


def test_what_orjson_refuses_the_standard_library_writes() -> None:
    assert canonical_json(2**70) == str(2**70)  # past 64 bits
    assert canonical_json({1: "a"}) == '{"1":"a"}'  # a non-string key, as json.dumps does
    deep: Any = []
    for _ in range(300):  # deeper than orjson goes
        deep = [deep]
    assert canonical_json(deep) == "[" * 301 + "]" * 301
