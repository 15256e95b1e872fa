"""Running handlers under supervision: step timeouts, and the cancel flag."""

from __future__ import annotations

import os
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


HUNG = f"""
pipeline: hung
version: 1
steps:
  - id: stuck
    type: auto
    depends_on: []
    executor: process
    run: {T}
    timeout: 3s
    retry: 1
    with: {{ops: [{{record_pid: stuck}}, {{sleep: 60}}]}}
  - {{id: fine, type: auto, executor: process, run: {T}, with: {{ops: [{{emit: {{ok: 1}}}}]}}}}
"""

IN_A_CHILD = f"""
pipeline: child
version: 1
steps:
  - {{id: work, type: auto, depends_on: [], executor: process, run: {T}, with: {{ops: [{{record_pid: work}}, {{emit: {{ok: 1}}}}]}}}}
  - {{id: broken, type: auto, executor: process, run: {T}, with: {{ops: [{{permanent: stop}}]}}}}
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_process_executor_kills_a_hung_handler_at_its_timeout(engine: Segue) -> None:
    engine.register(HUNG)
    view = engine.start("hung")
    step = view["steps"][0]
    assert view["status"] == "FAILED" and step["error"]["type"] == "StepTimedOut"
    pid = int((folder() / "stuck.pid").read_text().split()[-1])
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)  # killed, not left running


def test_a_process_step_returns_its_output_and_its_errors(engine: Segue) -> None:
    engine.register(IN_A_CHILD)
    view = engine.start("child")
    assert engine.artifacts(view["id"])["work"] == {"ok": 1}
    assert int((folder() / "work.pid").read_text().split()[-1]) != os.getpid()
    broken = next(s for s in view["steps"] if s["id"] == "broken")
    assert (
        broken["error"] == {"type": "PermanentError", "message": "stop"} and broken["attempt"] == 1
    )


def test_a_pipeline_wide_concurrency_limit_counts_every_step(engine: Segue) -> None:
    engine.register(
        f"""
pipeline: capped
version: 1
concurrency: 2
steps:
  - {{id: one, type: auto, depends_on: [], run: {T}, with: {{ops: [{{emit: 1}}]}}}}
  - {{id: two, type: auto, run: {T}, with: {{ops: [{{emit: 2}}]}}}}
"""
    )
    for _ in range(4):
        engine.start("capped", run=False)
    first = engine.service.claim("w1", limit=4)
    assert len(first) == 2  # the pipeline's limit, whatever the steps
    assert engine.service.claim("w2", limit=4) == []
    for job in first:
        engine.service.complete(job, {"done": True})
    assert len(engine.service.claim("w2", limit=4)) == 2  # two slots free again


def test_a_bad_concurrency_value_is_reported_where_it_is() -> None:
    from segue.errors import PipelineInvalid
    from segue.spec import load_pipeline

    try:
        load_pipeline(
            "pipeline: p\nversion: 1\nconcurrency: 0\nsteps:\n  - {id: a, type: auto, run: x:y}\n",
            "p.yaml",
        )
    except PipelineInvalid as exc:
        assert any("'concurrency' must be a positive integer" in str(p) for p in exc.problems)
        assert any("p.yaml:3" in str(p) for p in exc.problems)
    else:
        raise AssertionError("concurrency: 0 was accepted")
