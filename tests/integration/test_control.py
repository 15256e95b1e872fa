"""Operator controls on every backend: rerun (generations, re-confirm), skip, and their refusals."""

from __future__ import annotations

import jsonpatch
import pytest

from segue import Segue
from segue.core.task import EventType
from segue.errors import InputInvalid, InvalidCommand, StepNotFound, TaskFinished
from tests.support.handlers import counter

T = "tests.support.handlers:t"

FLOW = f"""
pipeline: flow
version: 1
steps:
  - {{id: draft, type: auto, depends_on: [], run: {T}, with: {{ops: [{{count: draft}}, {{emit: {{directory: [a, b]}}}}]}}}}
  - id: confirm
    type: wait_user
    prefill: "artifacts.draft"
    input_schema: {{type: object, required: [directory], properties: {{directory: {{type: array, minItems: 1}}}}}}
  - {{id: split, type: auto, run: {T}, with: {{ops: [{{count: split}}, {{record_key: split}}]}}}}
  - {{id: embed, type: auto, run: {T}, with: {{ops: [{{count: embed}}, {{emit: done}}]}}}}
"""

FAILING = f"""
pipeline: failing
version: 1
steps:
  - {{id: first, type: auto, depends_on: [], run: {T}, with: {{ops: [{{emit: 1}}]}}}}
  - {{id: broken, type: auto, run: {T}, with: {{ops: [{{permanent: true}}]}}}}
  - {{id: after, type: auto, run: {T}, with: {{ops: [{{count: after}}]}}}}
"""


@pytest.fixture
def flow(engine: Segue) -> Segue:
    engine.register(FLOW)
    engine.register(FAILING)
    return engine


def completed(engine: Segue) -> str:
    view = engine.start("flow")
    engine.advance(view["id"], "confirm", {"directory": ["a", "b"]})
    assert engine.get(view["id"])["status"] == "COMPLETED"
    return view["id"]


def test_rerun_from_a_wait_step_waits_again_with_the_last_input_as_prefill(flow: Segue) -> None:
    """Re-confirm: the task waits at the step again, offering what the person sent last."""
    task = completed(flow)
    view = flow.service.rerun(task, "confirm", actor="ops", reason="wrong outline")
    assert view["status"] == "WAITING_USER" and view["current_step"] == "confirm"
    assert view["required_input"]["prefill"] == {"directory": ["a", "b"]}
    assert {s["id"]: s["status"] for s in view["steps"]} == {
        "draft": "COMPLETED",
        "confirm": "WAITING_USER",
        "split": "PENDING",
        "embed": "PENDING",
    }
    assert "confirm" not in flow.artifacts(task) and "split" not in flow.artifacts(task)

    flow.advance(task, "confirm", {"directory": ["c"]})
    assert flow.get(task)["status"] == "COMPLETED"
    assert flow.artifacts(task)["confirm"] == {"directory": ["c"]}
    assert counter(task, "draft") == 1 and counter(task, "split") == 2
    history = flow.service.artifacts(task, "confirm", current_only=False)
    assert [(a.generation, a.current) for a in history] == [(1, False), (2, True)]
    events = [e for e in flow.events(task) if e.type is EventType.TASK_REOPENED]
    assert events[0].actor == "ops" and events[0].data["reason"] == "wrong outline"
    assert events[0].data["steps"] == ["confirm", "split", "embed"]


def test_rerun_with_input_answers_the_wait_step_at_once(flow: Segue) -> None:
    task = completed(flow)
    before = flow.artifacts(task)["confirm"]
    view = flow.service.rerun(task, "confirm", input={"directory": ["z"]})
    assert view["status"] in ("RUNNING", "PENDING")
    done = flow.drive(task)
    assert done["status"] == "COMPLETED"
    assert flow.artifacts(task)["confirm"] == {"directory": ["z"]}
    (answer,) = flow.service.artifacts(task, "confirm")  # offered: the last input
    assert answer.meta is not None and answer.meta["prefill"] == before
    assert jsonpatch.apply_patch(before, answer.meta["patch"]) == {"directory": ["z"]}


def test_rerun_of_an_auto_step_gives_its_handler_a_new_idempotency_key(
    flow: Segue, counters
) -> None:
    task = completed(flow)
    flow.service.rerun(task, "split")
    assert flow.drive(task)["status"] == "COMPLETED"
    keys = (counters / f"{task}.split.keys").read_text().split()
    assert len(keys) == 2 and keys[0] != keys[1]
    assert (
        counter(task, "draft") == 1 and counter(task, "split") == 2 and counter(task, "embed") == 2
    )


def test_rerun_refusals_change_nothing(flow: Segue) -> None:
    view = flow.start("flow")  # waits at confirm; split has not run
    with pytest.raises(InvalidCommand, match="has not run yet"):
        flow.service.rerun(view["id"], "split")
    with pytest.raises(StepNotFound):
        flow.service.rerun(view["id"], "nope")
    with pytest.raises(InvalidCommand, match="auto step"):
        flow.service.rerun(view["id"], "draft", input={"x": 1})
    task = completed(flow)
    with pytest.raises(InputInvalid):
        flow.service.rerun(task, "confirm", input={"directory": []})
    assert flow.get(task)["status"] == "COMPLETED"
    flow.service.cancel(view["id"])
    with pytest.raises(TaskFinished):
        flow.service.rerun(view["id"], "draft")
    assert flow.get(view["id"])["revision"] == len(flow.events(view["id"]))


def test_skip_a_failed_step_reopens_the_task_and_dependents_proceed(flow: Segue) -> None:
    view = flow.start("failing")
    assert view["status"] == "FAILED"
    skipped = flow.service.skip(view["id"], "broken", actor="ops", reason="not needed")
    done = flow.drive(skipped["id"])
    assert done["status"] == "COMPLETED"
    steps = {s["id"]: (s["status"], s["reason"]) for s in done["steps"]}
    assert steps["broken"] == ("SKIPPED", "not needed")
    assert counter(view["id"], "after") == 1


def test_skip_a_waiting_step_and_refuse_the_rest(flow: Segue) -> None:
    view = flow.start("flow")
    with pytest.raises(InvalidCommand, match="only a FAILED or WAITING_USER step"):
        flow.service.skip(view["id"], "draft")
    done = flow.service.skip(view["id"], "confirm")
    assert flow.drive(done["id"])["status"] == "COMPLETED"
    with pytest.raises(TaskFinished):
        flow.service.skip(view["id"], "confirm")


def test_a_late_completion_of_the_old_generation_is_rejected(flow: Segue) -> None:
    """Rerun while the step runs: the old run's report is discarded by fencing."""
    task = completed(flow)
    flow.service.rerun(task, "split")
    (old,) = flow.service.claim("w1", lease_s=30, task_id=task)
    flow.service.rerun(task, "split")  # again, while the first rerun's attempt runs
    assert flow.service.complete(old, {"late": True}) is None
    assert flow.drive(task)["status"] == "COMPLETED"
    assert flow.artifacts(task)["split"] != {"late": True}


def test_the_state_at_a_past_event_is_rebuilt_from_the_log(flow: Segue) -> None:
    """Time travel: after the wait step opened, before the answer; with the artifacts of then."""
    task = completed(flow)
    waiting_seq = next(e.seq for e in flow.events(task) if e.type is EventType.STEP_WAITING)
    past, artifacts = flow.service.state_at(task, waiting_seq)
    assert past.revision == waiting_seq and past.status.value == "WAITING_USER"
    assert [a.step for a in artifacts] == ["draft"]
    whole, everything = flow.service.state_at(task, flow.get(task)["revision"])
    assert whole == flow.service.get(task)
    assert {a.step for a in everything} == {"draft", "confirm", "split", "embed"}
    with pytest.raises(InvalidCommand, match="there is no event 999"):
        flow.service.state_at(task, 999)


def test_a_fork_starts_from_a_past_state_and_leaves_the_original_alone(flow: Segue) -> None:
    task = completed(flow)
    waiting_seq = next(e.seq for e in flow.events(task) if e.type is EventType.STEP_WAITING)
    before = flow.events(task)
    forked = flow.service.fork(task, waiting_seq, actor="ops")
    assert forked["id"] != task and forked["status"] == "WAITING_USER"
    assert forked["required_input"]["prefill"] == {"directory": ["a", "b"]}
    assert flow.artifacts(forked["id"])["draft"] == {"directory": ["a", "b"]}
    assert counter(forked["id"], "draft") == 0  # carried over, not run again
    flow.advance(forked["id"], "confirm", {"directory": ["other"]})
    assert flow.get(forked["id"])["status"] == "COMPLETED"
    assert flow.events(task) == before and flow.artifacts(task)["confirm"] == {
        "directory": ["a", "b"]
    }
    created = flow.events(forked["id"])[0]
    assert created.data["forked_from"] == {"task_id": task, "seq": waiting_seq}


def test_rerun_above_an_answered_wait_step_lets_it_be_answered_again(flow: Segue) -> None:
    """The wait step opens as a new attempt, so its new answer has a place of its own."""
    task = completed(flow)
    view = flow.service.rerun(task, "draft")
    view = flow.drive(task)
    assert view["status"] == "WAITING_USER" and view["current_step"] == "confirm"
    assert next(s for s in view["steps"] if s["id"] == "confirm")["attempt"] == 2
    done = flow.advance(task, "confirm", {"directory": ["again"]})
    assert done["status"] == "COMPLETED" and flow.artifacts(task)["confirm"] == {
        "directory": ["again"]
    }


def test_rerun_of_a_wait_step_never_answered_keeps_its_own_prefill(flow: Segue) -> None:
    view = flow.start("flow")
    assert view["required_input"]["prefill"] == {"directory": ["a", "b"]}
    again = flow.service.rerun(view["id"], "confirm")
    assert again["status"] == "WAITING_USER"
    assert again["required_input"]["prefill"] == {"directory": ["a", "b"]}
