"""Wait-step timeouts: durable timers that survive restarts, fire once, and race fairly."""

from __future__ import annotations

from pathlib import Path

import pytest

from segue import Segue
from segue.core.task import EventType
from segue.errors import StepNotWaiting
from segue.testing import FakeClock

T = "tests.support.handlers:t"


def pipeline(on_timeout: str, prefill: str = "{'ok': true}") -> str:
    return f"""
pipeline: timed_{on_timeout}
version: 1
steps:
  - {{id: make, type: auto, depends_on: [], run: {T}, with: {{ops: [{{emit: 1}}]}}}}
  - id: ask
    type: wait_user
    timeout: 10s
    on_timeout: {on_timeout}
    prefill: "{prefill}"
    input_schema: {{type: object, required: [ok], properties: {{ok: {{type: boolean}}}}}}
  - {{id: after, type: auto, run: {T}, with: {{ops: [{{emit: 2}}]}}}}
"""


@pytest.fixture
def clock(engine: Segue) -> FakeClock:
    fake = FakeClock()
    engine.service.clock = fake
    for policy in ("fail", "skip", "use_prefill"):
        engine.register(pipeline(policy))
    return fake


def waiting(engine: Segue, policy: str) -> str:
    view = engine.start(f"timed_{policy}")
    assert view["status"] == "WAITING_USER"
    return view["id"]


def fire(engine: Segue) -> None:
    assert engine.service.claim("timer-worker", limit=10) == []  # timers are not jobs


@pytest.mark.parametrize(
    ("policy", "ask", "task"),
    [
        ("fail", "FAILED", "FAILED"),
        ("skip", "SKIPPED", "COMPLETED"),
        ("use_prefill", "COMPLETED", "COMPLETED"),
    ],
)
def test_a_wait_step_times_out_by_its_policy(
    engine: Segue, clock: FakeClock, policy: str, ask: str, task: str
) -> None:
    task_id = waiting(engine, policy)
    clock.advance(9)
    fire(engine)
    assert engine.get(task_id)["status"] == "WAITING_USER"  # not yet due
    clock.advance(2)
    fire(engine)
    view = engine.drive(task_id)
    steps = {s["id"]: s for s in view["steps"]}
    assert steps["ask"]["status"] == ask and view["status"] == task
    kinds = [e.type for e in engine.events(task_id)]
    assert kinds.count(EventType.STEP_TIMED_OUT) == 1
    if policy == "use_prefill":
        assert engine.artifacts(task_id)["ask"] == {"ok": True}
        (answer,) = engine.service.artifacts(task_id, "ask")
        assert answer.meta == {"prefill": {"ok": True}, "patch": []}  # taken as offered
    if policy == "fail":
        assert steps["ask"]["error"] == {"type": "WaitTimeout", "message": "no input within 10s"}


def test_a_late_submission_after_the_timer_gets_a_clear_refusal(
    engine: Segue, clock: FakeClock
) -> None:
    task_id = waiting(engine, "skip")
    clock.advance(11)
    fire(engine)
    with pytest.raises(StepNotWaiting, match="SKIPPED"):
        engine.advance(task_id, "ask", {"ok": False})


def test_a_submission_before_the_timer_wins_and_the_timer_never_fires(
    engine: Segue, clock: FakeClock
) -> None:
    task_id = waiting(engine, "fail")
    engine.advance(task_id, "ask", {"ok": False})
    clock.advance(60)
    fire(engine)
    assert engine.get(task_id)["status"] == "COMPLETED"
    assert EventType.STEP_TIMED_OUT not in [e.type for e in engine.events(task_id)]
    assert engine.service.seconds_until_due() is None  # nothing left queued


def test_a_prefill_that_breaks_the_schema_fails_the_step_with_why(tmp_path: Path) -> None:
    with Segue(f"sqlite:///{tmp_path / 'db'}", blob_dir=tmp_path / "b") as engine:
        clock = FakeClock()
        engine.service.clock = clock
        engine.register(pipeline("use_prefill", prefill="{'ok': 'yes'}"))
        task_id = waiting(engine, "use_prefill")
        clock.advance(11)
        fire(engine)
        step = next(s for s in engine.get(task_id)["steps"] if s["id"] == "ask")
        assert step["status"] == "FAILED" and "prefill does not fit" in step["error"]["message"]


def test_the_timer_survives_a_restart_and_fires_once(tmp_path: Path) -> None:
    url, blobs = f"sqlite:///{tmp_path / 'timers.db'}", tmp_path / "blobs"
    clock = FakeClock()
    with Segue(url, blob_dir=blobs) as first:
        first.service.clock = clock
        first.register(pipeline("skip"))
        task_id = waiting(first, "skip")
    clock.advance(30)  # the process is gone while the timer comes due
    with Segue(url, blob_dir=blobs) as second:
        second.service.clock = clock
        fire(second)
        view = second.drive(task_id)
        assert view["status"] == "COMPLETED"
        assert [e.type for e in second.events(task_id)].count(EventType.STEP_TIMED_OUT) == 1
