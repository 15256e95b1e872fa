"""Running handlers under supervision: step timeouts, and the cancel flag."""

from __future__ import annotations

import threading
import time

from segue import Segue
from segue.runtime.worker import Worker
from tests.support.handlers import folder

T = "tests.support.handlers:t"

SLOW = f"""
pipeline: slow
version: 1
steps:
  - id: long
    type: auto
    depends_on: []
    run: {T}
    timeout: 300ms
    retry: {{max_attempts: 2, backoff: fixed, initial_delay: 0s}}
    with: {{ops: [{{until_cancelled: 5}}]}}
"""

CANCELLABLE = f"""
pipeline: cancellable
version: 1
steps:
  - {{id: long, type: auto, depends_on: [], run: {T}, with: {{ops: [{{until_cancelled: 10}}]}}}}
"""


def stopped(task_id: str, attempt: int) -> str | None:
    marker = folder() / f"{task_id}.long.{attempt}.stopped"
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return marker.read_text() if marker.exists() else None


def test_a_step_past_its_timeout_fails_and_is_retried_and_the_handler_is_asked_to_stop(
    engine: Segue,
) -> None:
    engine.register(SLOW)
    view = engine.start("slow")
    assert view["status"] == "FAILED"
    step = view["steps"][0]
    assert step["attempt"] == 2  # timed out twice: retried by policy, then failed
    assert step["error"] == {
        "type": "StepTimedOut",
        "message": "the step ran past its timeout of 0.3s",
    }
    assert stopped(view["id"], 1) == "cancelled" and stopped(view["id"], 2) == "cancelled"
    assert "long" not in engine.artifacts(view["id"])  # a late result is never recorded
    deadline = time.monotonic() + 10
    rejected: list[int | None] = []
    while len(rejected) < 2 and time.monotonic() < deadline:
        engine.drive(view["id"])  # the worker reports late results it has seen come back
        rejected = [
            e.attempt for e in engine.events(view["id"]) if e.type.value == "report_rejected"
        ]
        time.sleep(0.05)
    assert sorted(rejected) == [1, 2]  # ... but each is on the record


def test_cancelling_a_task_sets_the_running_handlers_flag(engine: Segue) -> None:
    engine.register(CANCELLABLE)
    task = engine.start("cancellable", run=False)["id"]
    worker = Worker(engine.service, lease_s=0.6, poll_s=0.02)
    done = threading.Event()
    thread = threading.Thread(target=lambda: (worker.drain(until=done.is_set), None))
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while engine.get(task)["steps"][0]["status"] != "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        engine.service.cancel(task, reason="not needed")
        assert stopped(task, 1) == "cancelled"  # seen at the next lease renewal
    finally:
        done.set()
        thread.join(10)
        worker.close()
    assert engine.get(task)["status"] == "CANCELLED"
    assert engine.artifacts(task) == {}
