"""Several workers on one database: every step run is claimed once (SCENARIOS B05, B09, B12)."""

from __future__ import annotations

import time

from segue import Segue
from segue.core.task import EventType
from tests.support.handlers import counter
from tests.support.workers import run_workers

T = "tests.support.handlers:t"


def all_done(engine: Segue, ids: list[str]) -> bool:
    return all(engine.service.status(i).terminal for i in ids)


def test_b05_two_workers_never_run_one_step_twice(tmp_path) -> None:
    """B05 on SQLite: 50 tasks, 2 workers polling hard: each step ran once, one lease grant."""
    with Segue(f"sqlite:///{tmp_path / 'b05.db'}") as engine:
        engine.register(f"""
pipeline: b05
version: 1
steps:
  - {{id: work, type: auto, depends_on: [], run: {T}, with: {{ops: [{{count: work}}, {{sleep: 0.05}}]}}}}
""")
        ids = [engine.start("b05", run=False)["id"] for _ in range(50)]
        run_workers(engine, lambda: all_done(engine, ids))
        for task in ids:
            assert engine.get(task)["status"] == "COMPLETED"
            assert counter(task, "work") == 1
            started = [e for e in engine.events(task) if e.type is EventType.STEP_STARTED]
            assert len(started) == 1
            assert len(engine.service.artifacts(task, current_only=False)) == 1


def test_b12_a_skipped_wait_step_starts_the_next_step_exactly_once(tmp_path) -> None:
    """B12: with review skipped, notify runs once per task; with review, once after input."""
    with Segue(f"sqlite:///{tmp_path / 'b12.db'}") as engine:
        engine.register(f"""
pipeline: b12
version: 1
config: {{type: object, properties: {{needs_review: {{type: boolean}}}}}}
steps:
  - {{id: start, type: auto, depends_on: [], run: {T}, with: {{ops: [{{emit: {{}}}}]}}}}
  - {{id: review, type: wait_user, when: "config.needs_review", input_schema: {{type: object}}}}
  - {{id: notify, type: auto, run: {T}, with: {{ops: [{{count: notify}}]}}}}
""")
        quick = [engine.start("b12", {"needs_review": False}, run=False)["id"] for _ in range(100)]
        slow = [engine.start("b12", {"needs_review": True}, run=False)["id"] for _ in range(20)]

        def waiting_answered() -> bool:
            for task in slow:
                if engine.service.status(task).value == "WAITING_USER":
                    engine.service.advance(task, "review", {})
            return all_done(engine, quick + slow)

        run_workers(engine, waiting_answered)
        for task in quick + slow:
            assert engine.get(task)["status"] == "COMPLETED"
            assert counter(task, "notify") == 1
            events = engine.events(task)
            started = [e for e in events if e.type is EventType.STEP_STARTED and e.step == "notify"]
            assert len(started) == 1
        for task in quick:
            statuses = {s["id"]: s["status"] for s in engine.get(task)["steps"]}
            assert statuses["review"] == "SKIPPED"
            assert not any(e.type is EventType.STEP_WAITING for e in engine.events(task))


def test_b09_a_task_cancelled_during_backoff_never_runs_again(tmp_path) -> None:
    """B09: cancel during a retry's backoff: no step starts after the cancel, nothing runs."""
    with Segue(f"sqlite:///{tmp_path / 'b09.db'}") as engine:
        engine.register(f"""
pipeline: b09
version: 1
steps:
  - id: flaky
    type: auto
    depends_on: []
    run: {T}
    with: {{ops: [{{fail_first: 1}}, {{count: flaky}}]}}
    retry: {{max_attempts: 3, initial_delay: 1s}}
  - {{id: after, type: auto, run: {T}, with: {{ops: [{{count: after}}]}}}}
""")
        task = engine.start("b09", run=False)["id"]

        def failed_once() -> bool:
            return any(e.type is EventType.STEP_FAILED for e in engine.events(task))

        run_workers(engine, failed_once, count=1)
        engine.service.cancel(task)
        run_workers(engine, lambda: False or time.sleep(1.5) or True, count=1)
        assert engine.get(task)["status"] == "CANCELLED"
        events = engine.events(task)
        cancel_seq = next(e.seq for e in events if e.type is EventType.TASK_CANCELLED)
        assert not any(e.type is EventType.STEP_STARTED and e.seq > cancel_seq for e in events)
        assert (counter(task, "flaky"), counter(task, "after")) == (0, 0)
        assert engine.artifacts(task) == {}
