"""Durability under SIGKILL: real subprocesses, killed with no chance to clean up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from segue import Segue
from segue.core.task import EventType
from segue.runtime.worker import Worker
from tests.conftest import REPO
from tests.support.handlers import counter

T = "tests.support.handlers:t"

PIPELINE = f"""
pipeline: crash
version: 1
steps:
  - {{id: before, type: auto, depends_on: [], run: {T}, with: {{ops: [{{count: before}}]}}}}
  - {{id: slow, type: auto, run: {T}, with: {{ops: [{{count: slow}}, {{hold: gate}}, {{emit: {{ok: true}}}}]}}}}
  - {{id: gate_step, type: wait_user, input_schema: {{type: object, required: [ok], properties: {{ok: {{type: boolean}}}}}}}}
  - {{id: after, type: auto, run: {T}, with: {{ops: [{{count: after}}]}}}}
"""


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def start_holder(url: str, definition: Path, lease_s: float) -> subprocess.Popen[str]:
    """A process that starts a task, prints its id, then drives it (blocking in 'slow')."""
    script = textwrap.dedent(f"""
        from segue import Segue
        from segue.runtime.worker import Worker
        engine = Segue({url!r}, pipelines=[{str(definition)!r}])
        view = engine.start("crash", run=False)
        print(view["id"], flush=True)
        Worker(engine.service, lease_s={lease_s}).drain()
        import time
        time.sleep(600)
    """)
    return subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env(), cwd=REPO
    )


def kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL: no clean-up, no flush, no atexit."""
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.stdout is not None
    proc.stdout.close()


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_sigkill_mid_step_loses_nothing_and_reruns_only_that_step(tmp_path, counters) -> None:
    """Killed while a step runs: the step runs again as attempt 2; finished steps do not."""
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    definition = tmp_path / "crash.yaml"
    definition.write_text(PIPELINE)
    proc = start_holder(url, definition, lease_s=1.0)
    try:
        task = proc.stdout.readline().strip()
        wait_for(lambda: counter(task, "slow") == 1)
    finally:
        kill(proc)
    (counters / "gate").touch()
    with Segue(url) as engine:
        assert engine.get(task)["status"] == "RUNNING"
        time.sleep(1.1)  # let the dead worker's lease run out
        Worker(engine.service, lease_s=5).drain(
            until=lambda: engine.get(task)["status"] != "RUNNING"
        )
        view = engine.get(task)
        assert (view["status"], view["current_step"]) == ("WAITING_USER", "gate_step")
        assert (counter(task, "before"), counter(task, "slow")) == (1, 2)
        slow = engine.service.artifacts(task, "slow", current_only=False)
        assert [a.attempt for a in slow] == [2]
        assert any(e.type is EventType.LEASE_EXPIRED for e in engine.events(task))


def test_sigkill_at_a_wait_step_then_a_new_process_finishes_the_task(tmp_path, counters) -> None:
    """A task paused at a wait step survives SIGKILL; a new CLI process advances it."""
    url = f"sqlite:///{tmp_path / 'wait.db'}"
    definition = tmp_path / "crash.yaml"
    definition.write_text(PIPELINE)
    (counters / "gate").touch()
    proc = start_holder(url, definition, lease_s=5.0)
    try:
        task = proc.stdout.readline().strip()
        with Segue(url) as engine:
            wait_for(lambda: engine.get(task)["status"] == "WAITING_USER")
    finally:
        kill(proc)
    answer = tmp_path / "answer.json"
    answer.write_text(json.dumps({"ok": True}))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "segue.cli.main",
            "--database-url",
            url,
            "advance",
            task,
            "gate_step",
            "--input",
            f"@{answer}",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env(),
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "COMPLETED"
    assert [counter(task, k) for k in ("before", "slow", "after")] == [1, 1, 1]


WAITING = """
pipeline: waiting
version: 1
steps:
  - {id: answer, type: wait_user, input_schema: {type: object}}
"""


def test_sigkill_during_group_commits_loses_no_acknowledged_write(tmp_path) -> None:
    """Eight threads start tasks as fast as they can, so their commits are shared;
    each prints an id only once ``start`` has returned. SIGKILL at three moments:
    every printed id must be a whole task afterwards."""
    url = f"sqlite:///{tmp_path / 'group.db'}"
    definition = tmp_path / "waiting.yaml"
    definition.write_text(WAITING)
    script = textwrap.dedent(f"""
        import threading
        from segue import Segue
        engine = Segue({url!r}, pipelines=[{str(definition)!r}])
        lock = threading.Lock()
        def starter():
            while True:
                task_id = engine.start("waiting", run=False)["id"]
                with lock:
                    print(task_id, flush=True)
        for _ in range(8):
            threading.Thread(target=starter, daemon=True).start()
        threading.Event().wait()
    """)
    acknowledged: list[str] = []
    for stop_after in (40, 173, 311):
        proc = subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env(), cwd=REPO
        )
        assert proc.stdout is not None
        for _ in range(stop_after):
            acknowledged.append(proc.stdout.readline().strip())
        kill(proc)
    with Segue(url) as engine:
        for task_id in acknowledged:
            view = engine.get(task_id)
            assert view["status"] == "WAITING_USER"
            assert len(engine.events(task_id)) == view["revision"]
