"""SCENARIOS.md cases that need no HTTP server and no second process, on every backend."""

from __future__ import annotations

import pytest

from segue import InputInvalid, Segue, StepNotWaiting, TaskFinished
from segue.core.task import EventType, replay
from segue.errors import InvalidCommand, StepNotFound, VersionConflict
from tests.support.handlers import counter

T = "tests.support.handlers:t"


def run(ops: str) -> str:
    return f"run: {T}, with: {{ops: {ops}}}"


B01 = f"""
pipeline: b01
version: 1
steps:
  - {{id: ask_name, type: wait_user, depends_on: [], input_schema: {{type: object, required: [name], additionalProperties: false, properties: {{name: {{type: string, minLength: 1}}}}}}}}
  - {{id: ask_age,  type: wait_user, input_schema: {{type: object, required: [age], additionalProperties: false, properties: {{age: {{type: integer, minimum: 0}}}}}}}}
  - {{id: save, type: auto, {run("[{emit: {saved: true}}]")}}}
"""


def test_b01_later_wait_step_never_gets_an_earlier_input(engine: Segue) -> None:
    """B01: each wait step takes its own input once; stale and wrong answers change nothing."""
    engine.register(B01)
    view = engine.start("b01")
    assert (view["status"], view["current_step"]) == ("WAITING_USER", "ask_name")
    view = engine.advance(view["id"], "ask_name", {"name": "Ada"})
    assert (view["status"], view["current_step"]) == ("WAITING_USER", "ask_age")
    assert view["required_input"]["schema"]["required"] == ["age"]
    task = view["id"]
    with pytest.raises(StepNotWaiting):
        engine.advance(task, "ask_name", {"name": "Bob"})
    with pytest.raises(InputInvalid):
        engine.advance(task, "ask_age", {"name": "Ada"})
    assert engine.get(task)["revision"] == view["revision"]
    assert engine.advance(task, "ask_age", {"age": 36})["status"] == "COMPLETED"
    assert engine.artifacts(task) == {
        "ask_name": {"name": "Ada"},
        "ask_age": {"age": 36},
        "save": {"saved": True},
    }
    submitted = [e for e in engine.events(task) if e.type is EventType.INPUT_SUBMITTED]
    assert [e.step for e in submitted] == ["ask_name", "ask_age"]


B13 = f"""
pipeline: b13
version: 1
steps:
  - {{id: check, type: auto, depends_on: [], {run("[{emit: {flag: false, count: 0, note: '', items: []}}]")}}}
  - {{id: if_flag, type: auto, depends_on: [check], when: "artifacts.check.flag == true", {run("[{count: if_flag}]")}}}
  - {{id: if_zero, type: auto, depends_on: [check], when: "artifacts.check.count == 0", {run("[{count: if_zero}]")}}}
  - {{id: otherwise, type: auto, depends_on: [check], when: "artifacts.check.flag != true", {run("[{count: otherwise}]")}}}
  - {{id: if_items, type: auto, depends_on: [check], when: "size(artifacts.check.items) > 0", {run("[{count: if_items}]")}}}
  - {{id: blank, type: auto, depends_on: [], {run("[{emit: {}}]")}}}
  - {{id: after_blank, type: auto, depends_on: [blank], {run("[{count: after_blank}]")}}}
"""


def test_b13_empty_but_present_values_are_not_missing(engine: Segue) -> None:
    """B13: false, 0, '' and [] are values; {} is an artifact, not an absence."""
    engine.register(B13)
    view = engine.start("b13")
    assert view["status"] == "COMPLETED"
    statuses = {s["id"]: s["status"] for s in view["steps"]}
    assert statuses["if_flag"] == statuses["if_items"] == "SKIPPED"
    counts = {
        k: counter(view["id"], k)
        for k in ("if_flag", "if_zero", "otherwise", "if_items", "after_blank")
    }
    assert counts == {"if_flag": 0, "if_zero": 1, "otherwise": 1, "if_items": 0, "after_blank": 1}
    assert engine.artifacts(view["id"])["blank"] == {}


def test_b13_flag_true_takes_the_other_branch(engine: Segue) -> None:
    """B13, second task: with flag true, if_flag runs and otherwise is skipped."""
    engine.register(B13.replace("flag: false", "flag: true").replace("version: 1", "version: 2"))
    view = engine.start("b13")
    assert counter(view["id"], "if_flag") == 1
    assert counter(view["id"], "otherwise") == 0


B17 = f"""
pipeline: b17
version: 1
steps:
  - {{id: a, type: auto, depends_on: [], {run("[{count: a}]")}}}
  - {{id: b, type: auto, {run("[{count: b}]")}}}
  - {{id: c, type: auto, {run("[{fail_while: BROKEN}, {count: c}]")}}}
"""


def test_b17_retry_resumes_at_the_failed_step(engine: Segue, counters) -> None:
    """B17: retry of a FAILED task re-runs only the failed step; finished ones stay."""
    engine.register(B17)
    (counters / "BROKEN").touch()
    view = engine.start("b17")
    assert (view["status"], view["current_step"]) == ("FAILED", "c")
    task = view["id"]
    assert [counter(task, k) for k in "abc"] == [1, 1, 0]
    before = {a.step: a for a in engine.service.artifacts(task)}
    (counters / "BROKEN").unlink()
    engine.service.retry(task)
    assert engine.drive(task)["status"] == "COMPLETED"
    assert [counter(task, k) for k in "abc"] == [1, 1, 1]
    after = {a.step: a for a in engine.service.artifacts(task)}
    assert after["a"] == before["a"] and after["b"] == before["b"]
    assert len(engine.service.artifacts(task, current_only=False)) == 3
    with pytest.raises(TaskFinished):
        engine.service.retry(task)


B18 = f"""
pipeline: b18
version: 1
steps:
  - {{id: s1, type: auto, depends_on: [], {run("[{count: s1}]")}}}
  - {{id: s2, type: auto, {run("[{fail_first: 2}, {count: s2}]")}, retry: {{max_attempts: 3, initial_delay: 0.05s}}}}
  - {{id: s3, type: auto, {run("[{count: s3}]")}}}
  - {{id: s4, type: auto, {run("[{count: s4}]")}}}
"""


def test_b18_the_line_goes_on_after_a_retried_step(engine: Segue) -> None:
    """B18: s2 fails twice, succeeds on attempt 3, and s3 and s4 still run once each."""
    engine.register(B18)
    view = engine.start("b18")
    task = view["id"]
    assert view["status"] == "COMPLETED"
    assert [counter(task, k) for k in ("s1", "s2", "s3", "s4")] == [1, 1, 1, 1]
    events = engine.events(task)
    s2 = [
        (e.type, e.attempt)
        for e in events
        if e.step == "s2" and e.type in (EventType.STEP_FAILED, EventType.STEP_COMPLETED)
    ]
    assert s2 == [
        (EventType.STEP_FAILED, 1),
        (EventType.STEP_FAILED, 2),
        (EventType.STEP_COMPLETED, 3),
    ]
    done_s2 = next(e.seq for e in events if e.step == "s2" and e.type is EventType.STEP_COMPLETED)
    start_s3 = next(e.seq for e in events if e.step == "s3" and e.type is EventType.STEP_STARTED)
    assert start_s3 > done_s2
    assert set(engine.artifacts(task)) == {"s1", "s2", "s3", "s4"}


B19 = f"""
pipeline: b19
version: 1
steps:
  - id: approve
    type: wait_user
    depends_on: []
    input_schema:
      type: object
      required: [amount, currency]
      additionalProperties: false
      properties: {{amount: {{type: number, minimum: 0}}, currency: {{enum: [EUR, USD]}}}}
  - {{id: charge, type: auto, {run("[{count: charge}]")}}}
"""


@pytest.mark.parametrize(
    ("value", "pointers"),
    [
        ({}, ["/amount", "/currency"]),
        ({"amount": -5, "currency": "EUR"}, ["/amount"]),
        ({"amount": "10", "currency": "EUR"}, ["/amount"]),
        ({"amount": 10, "currency": "EUR", "extra": 1}, [""]),
        ([], [""]),
        ("yes", [""]),
    ],
)
def test_b19_schema_invalid_input_changes_nothing(engine: Segue, value, pointers) -> None:
    """B19: each invalid answer is rejected with its JSON pointers, and nothing changes."""
    engine.register(B19)
    view = engine.start("b19")
    with pytest.raises(InputInvalid) as caught:
        engine.advance(view["id"], "approve", value)
    assert sorted(v.pointer for v in caught.value.violations) == pointers
    after = engine.get(view["id"])
    assert after == view
    assert engine.artifacts(view["id"]) == {}
    assert counter(view["id"], "charge") == 0


def test_b19_unknown_step_is_not_found_then_a_valid_answer_completes(engine: Segue) -> None:
    """B19: an unknown step id is StepNotFound; the valid answer completes the task once."""
    engine.register(B19)
    task = engine.start("b19")["id"]
    with pytest.raises(StepNotFound):
        engine.advance(task, "approv", {"amount": 10, "currency": "EUR"})
    view = engine.advance(task, "approve", {"amount": 10, "currency": "EUR"})
    assert view["status"] == "COMPLETED"
    assert engine.artifacts(task)["approve"] == {"amount": 10, "currency": "EUR"}
    assert counter(task, "charge") == 1


B24 = f"""
pipeline: b24
version: 1
steps:
  - {{id: s1, type: auto, depends_on: [], {run("[{emit: {}}]")}}}
  - {{id: s2, type: auto, {run("[{emit: {}}]")}}}
  - {{id: s3, type: auto, {run("[{emit: {}}]")}}}
"""


def test_b24_transitions_sharing_a_timestamp_are_all_kept_in_causal_order(engine: Segue) -> None:
    """B24: with the clock frozen, every transition is recorded once, in causal order."""
    from segue.testing import FakeClock

    engine.service.clock = FakeClock()
    engine.register(B24)
    for _ in range(20):
        view = engine.start("b24")
        assert view["status"] == "COMPLETED"
        events = engine.events(view["id"])
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert len({e.at for e in events}) == 1
        order = [
            (e.type.value, e.step)
            for e in events
            if e.type in (EventType.STEP_STARTED, EventType.STEP_COMPLETED)
        ]
        assert order == [
            (t, s) for s in ("s1", "s2", "s3") for t in ("step_started", "step_completed")
        ]
        assert events[0].type is EventType.TASK_CREATED
        assert events[-1].type is EventType.TASK_COMPLETED


B10_V1 = f"""
pipeline: b10
version: 1
steps:
  - {{id: a, type: auto, depends_on: [], {run("[{emit: {v: 1}}]")}}}
  - {{id: gate, type: wait_user, input_schema: {{type: object}}}}
  - {{id: b, type: auto, {run("[{emit: {v: 1}}]")}}}
"""
B10_V2 = f"""
pipeline: b10
version: 2
steps:
  - {{id: a, type: auto, depends_on: [], {run("[{emit: {v: 1}}]")}}}
  - {{id: gate, type: wait_user, input_schema: {{type: object}}}}
  - {{id: b, type: auto, {run("[{emit: {v: 2}}]")}}}
  - {{id: c, type: auto, {run("[{count: c}]")}}}
"""


def test_b10_a_running_task_keeps_its_version(engine: Segue) -> None:
    """B10: registering v2 changes nothing for a task on v1; new tasks get v2."""
    engine.register(B10_V1)
    t1 = engine.start("b10")["id"]
    engine.register(B10_V2)
    t2 = engine.start("b10")
    assert t2["version"] == 2
    v1 = engine.advance(t1, "gate", {})
    assert (v1["status"], v1["version"]) == ("COMPLETED", 1)
    assert engine.artifacts(t1) == {"a": {"v": 1}, "gate": {}, "b": {"v": 1}}
    assert counter(t1, "c") == 0
    engine.advance(t2["id"], "gate", {})
    assert counter(t2["id"], "c") == 1
    with pytest.raises(VersionConflict):
        engine.register(B10_V1.replace("{v: 1}}]", "{v: 9}}]"))
    assert engine.register(B10_V1).content_hash == engine.service.spec("b10", 1).content_hash


def test_cancel_stops_a_task_for_good(engine: Segue) -> None:
    """Cancel ends the task: advance, retry and cancel are refused afterwards."""
    engine.register(B19)
    task = engine.start("b19")["id"]
    engine.service.cancel(task, reason="not needed")
    view = engine.get(task)
    assert view["status"] == "CANCELLED" and view["error"] == "not needed"
    for attempt in (
        lambda: engine.advance(task, "approve", {"amount": 1, "currency": "EUR"}),
        lambda: engine.service.cancel(task),
        lambda: engine.service.retry(task),
    ):
        with pytest.raises((TaskFinished, InvalidCommand)):
            attempt()


def test_replaying_stored_events_gives_the_stored_state(engine: Segue) -> None:
    """The stored state row equals the fold of the stored event log."""
    engine.register(B18)
    task = engine.start("b18")["id"]
    assert replay(engine.events(task)) == engine.service.get(task)
