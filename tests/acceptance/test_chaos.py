"""Chaos, bounded: a real worker process SIGKILLed at random moments, and one paused past its lease.

Afterwards every task is finished, none is lost, no step has two completions,
handlers ran at most once per completion plus once per kill, and every task's
event log replays to exactly its stored state.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

from segue import Segue
from segue.core import replay
from segue.core.task import EventType
from segue.runtime.worker import Worker
from segue.store import SqlStore
from tests.conftest import REPO
from tests.support.handlers import folder, journal_calls

T = "tests.support.handlers:t"
STEP = f"{{type: auto, run: {T}, with: {{ops: [{{journal: calls.db}}, {{jitter: 0.03}}]}}}}"
CHAOS = f"""
pipeline: chaos
version: 1
steps:
  - {{id: a, depends_on: [], {STEP[1:]}
  - {{id: b, {STEP[1:]}
  - {{id: c, {STEP[1:]}
"""

PAUSABLE = f"""
pipeline: pausable
version: 1
steps:
  - {{id: only, type: auto, depends_on: [], run: {T}, with: {{ops: [{{journal: calls.db}}, {{hold: gate}}, {{emit: done}}]}}}}
"""


def worker_process(
    url: str, blobs: Path, lease_s: float, threads: int = 1
) -> subprocess.Popen[bytes]:
    script = textwrap.dedent(f"""
        import threading
        from segue import Segue
        from segue.runtime.worker import Worker
        engine = Segue({url!r}, blob_dir={str(blobs)!r})
        Worker(
            engine.service, lease_s={lease_s}, poll_s=0.01, batch=4, concurrency={threads}
        ).run_forever(threading.Event())
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", script], env=env, cwd=REPO)


def check_logs(engine: Segue, task_ids: list[str]) -> Counter[tuple[str, str]]:
    """Every task finished, one completion per step, each log replays to its state."""
    completions: Counter[tuple[str, str]] = Counter()
    for task_id in task_ids:
        state = engine.service.get(task_id)
        events = engine.events(task_id)
        assert replay(events) == state
        for e in events:
            if e.type is EventType.STEP_COMPLETED and e.step:
                completions[(task_id, e.step)] += 1
        current = [a.step for a in engine.service.artifacts(task_id)]
        assert sorted(current) == sorted(set(current))  # one current artifact per step
    assert set(completions.values()) <= {1}
    return completions


def finish_after_kills(engine: Segue, url: str, blobs: Path, tasks: list[str], kills: int) -> None:
    """A last worker finishes every task: each step completed once (none lost), and the
    handlers ran at most once more per kill for each run of the batch it interrupted."""
    final = worker_process(url, blobs, lease_s=1.0)
    try:
        deadline = time.monotonic() + 90
        while not all(engine.service.status(t).terminal for t in tasks):
            assert time.monotonic() < deadline, "tasks did not finish after the kills"
            time.sleep(0.1)
        assert {engine.service.status(t).value for t in tasks} == {"COMPLETED"}
        completions = check_logs(engine, tasks)
    finally:
        final.send_signal(signal.SIGTERM)
        final.wait(30)
    assert len(completions) == len(tasks) * 3  # none lost
    calls = Counter((task, step) for task, step, _, _ in journal_calls("calls.db"))
    assert set(calls) == set(completions)
    extra = sum(calls.values()) - sum(completions.values())
    assert 0 <= extra <= kills * 4  # a kill interrupts at most one batch of 4 runs


def test_random_sigkills_lose_nothing_and_complete_nothing_twice(tmp_path: Path) -> None:
    url, blobs = f"sqlite:///{tmp_path / 'chaos.db'}", tmp_path / "blobs"
    rng = random.Random(20261203)
    with Segue(url, blob_dir=blobs) as engine:
        engine.register(CHAOS)
        tasks = [engine.start("chaos", run=False)["id"] for _ in range(30)]
    kills = 0
    for _ in range(6):
        proc = worker_process(url, blobs, lease_s=1.0)
        time.sleep(0.8 + rng.random() * 0.7)  # start-up, then a random moment of work
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
    with Segue(url, blob_dir=blobs) as engine:
        finish_after_kills(engine, url, blobs, tasks, kills)


def test_sigkills_while_writers_of_three_processes_speculate(tmp_path: Path) -> None:
    """Two worker processes and this one (starting tasks) contend for the writer lock, so
    their writes run speculatively and are replayed under it (this process's always);
    workers are SIGKILLed at random moments, during speculations and replays alike.
    Nothing is lost or done twice."""
    url, blobs = f"sqlite:///{tmp_path / 'spec.db'}", tmp_path / "blobs"
    rng = random.Random(20261204)
    kills = 0
    tasks: list[str] = []
    with Segue(url, blob_dir=blobs) as engine:
        store = engine.store
        assert isinstance(store, SqlStore)
        store.speculation = "always"  # this process's starts, whatever the timing
        engine.register(CHAOS)
        for _ in range(4):
            procs = [worker_process(url, blobs, lease_s=1.0) for _ in range(2)]
            until = time.monotonic() + 0.8 + rng.random() * 0.7
            while time.monotonic() < until:  # this process writes while the workers do
                tasks.append(engine.start("chaos", run=False)["id"])
                time.sleep(0.05)
            for proc in procs:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
        finish_after_kills(engine, url, blobs, tasks, kills)
        assert store.speculations["replayed"] > 0


def test_a_paused_worker_past_its_lease_is_fenced_off_every_time(tmp_path: Path) -> None:
    url, blobs = f"sqlite:///{tmp_path / 'pause.db'}", tmp_path / "blobs"
    with Segue(url, blob_dir=blobs) as engine:
        engine.register(PAUSABLE)
        for round_ in range(2):
            (folder() / "gate").unlink(missing_ok=True)
            task = engine.start("pausable", run=False)["id"]
            paused = worker_process(url, blobs, lease_s=0.6)
            try:
                deadline = time.monotonic() + 30
                while not any(c[0] == task for c in journal_calls("calls.db")):
                    assert time.monotonic() < deadline, "the first worker never started the step"
                    time.sleep(0.02)
                paused.send_signal(signal.SIGSTOP)
                (folder() / "gate").write_text("open")
                time.sleep(1.5)  # well past the lease
                with Worker(engine.service, owner="second", lease_s=0.6, poll_s=0.01) as second:
                    second.drain(until=lambda t=task: engine.service.status(t).terminal)
                paused.send_signal(signal.SIGCONT)  # it wakes up and reports its late result
                deadline = time.monotonic() + 30
                while EventType.REPORT_REJECTED not in [e.type for e in engine.events(task)]:
                    assert time.monotonic() < deadline, f"round {round_}: no rejection recorded"
                    time.sleep(0.05)
            finally:
                paused.send_signal(signal.SIGKILL)
                paused.wait()
            events = engine.events(task)
            done = [e.attempt for e in events if e.type is EventType.STEP_COMPLETED]
            rejected = [e.attempt for e in events if e.type is EventType.REPORT_REJECTED]
            assert done == [2] and rejected == [1]
            assert engine.artifacts(task) == {"only": "done"}
            check_logs(engine, [task])


LIMITED = f"""
pipeline: limited
version: 1
steps:
  - {{id: call_model, type: auto, depends_on: [], concurrency: 2, run: {T}, with: {{ops: [{{overlap: 0.15}}]}}}}
  - {{id: free, type: auto, run: {T}, with: {{ops: [{{emit: ok}}]}}}}
"""


def test_a_step_concurrency_limit_holds_across_worker_processes(tmp_path: Path) -> None:
    """Two processes of four threads each never run more than 2 of the limited step at once."""
    from tests.support.handlers import most_at_once

    url, blobs = f"sqlite:///{tmp_path / 'limit.db'}", tmp_path / "blobs"
    with Segue(url, blob_dir=blobs) as engine:
        engine.register(LIMITED)
        tasks = [engine.start("limited", run=False)["id"] for _ in range(12)]
        workers = [worker_process(url, blobs, lease_s=5.0, threads=4) for _ in range(2)]
        try:
            deadline = time.monotonic() + 60
            while not all(engine.service.status(t).terminal for t in tasks):
                assert time.monotonic() < deadline, "the limited tasks did not finish"
                time.sleep(0.05)
        finally:
            for proc in workers:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
        assert {engine.service.status(t).value for t in tasks} == {"COMPLETED"}
    assert most_at_once() == 2
