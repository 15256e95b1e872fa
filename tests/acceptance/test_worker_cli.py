"""`segue worker` stops gracefully on SIGTERM: it claims nothing more, finishes the running
step (or, past --grace-s, gives its lease back) and exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from segue import Segue
from tests.conftest import REPO

pytestmark = pytest.mark.slow

HELD = """
pipeline: held
version: 1
steps:
  - id: first
    type: auto
    depends_on: []
    run: tests.support.handlers:t
    with: {ops: [{hold: gate}, {emit: done}]}
  - {id: second, type: auto, run: "segue.builtins:passthrough"}
"""


def start_worker(url: str, counters: Path, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEGUE_")}
    env.update(PYTHONPATH=str(REPO), SEGUE_TEST_COUNTERS=str(counters))
    command = [sys.executable, "-m", "segue", "worker", "--database-url", url]
    command += ["--concurrency", "1", "--batch", "1", "--poll-s", "0.05", *extra]
    return subprocess.Popen(
        command, cwd=counters.parent, env=env, stderr=subprocess.PIPE, text=True
    )


def wait_for(condition: object, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_sigterm_finishes_the_running_step_and_claims_no_more(
    tmp_path: Path, counters: Path
) -> None:
    """The step running at SIGTERM completes and is recorded; its successor stays queued for
    the next worker; the process exits 0."""
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with Segue(url, blob_dir=tmp_path / "blobs") as engine:
        engine.register(HELD)
        task = engine.start("held", run=False)["id"]
        worker = start_worker(url, counters)
        try:
            wait_for(
                lambda: engine.service.get(task).steps["first"].status.value == "RUNNING", "claim"
            )
            worker.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            (counters / "gate").touch()  # the handler may finish now
            _, stderr = worker.communicate(timeout=30)
        finally:
            if worker.poll() is None:
                worker.kill()
        assert worker.returncode == 0, stderr
        assert "Traceback" not in stderr
        state = engine.service.get(task)
        assert state.steps["first"].status.value == "COMPLETED"
        assert state.steps["second"].status.value == "READY"  # not claimed while stopping
        assert engine.drive(task)["status"] == "COMPLETED"


def test_past_the_grace_period_the_lease_is_given_back(tmp_path: Path, counters: Path) -> None:
    """A step still running when --grace-s runs out is released at once (exit 143), so the
    next worker runs it without waiting for the lease to expire."""
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with Segue(url, blob_dir=tmp_path / "blobs") as engine:
        engine.register(HELD)
        task = engine.start("held", run=False)["id"]
        worker = start_worker(url, counters, "--grace-s", "0.5", "--lease-s", "600")
        try:
            wait_for(
                lambda: engine.service.get(task).steps["first"].status.value == "RUNNING", "claim"
            )
            worker.send_signal(signal.SIGTERM)
            _, stderr = worker.communicate(timeout=30)
        finally:
            if worker.poll() is None:
                worker.kill()
        assert worker.returncode == 143, stderr
        assert "giving their leases back" in stderr
        with engine.store.engine.connect() as conn:
            leases = conn.exec_driver_sql(
                "SELECT lease_expires_ms FROM segue_step_runs WHERE status = 'running'"
            ).all()
        assert leases == [(0,)]  # given back, not held for its 600 s
        (counters / "gate").touch()
        assert engine.drive(task)["status"] == "COMPLETED"


QUICK = """
pipeline: quick
version: 1
steps:
  - {id: only, type: auto, depends_on: [], run: "segue.builtins:passthrough"}
"""


def test_an_idle_worker_process_is_woken_by_a_start_in_another(
    tmp_path: Path, counters: Path
) -> None:
    """On SQLite, a start in this process wakes the idle `segue worker` at once: with a poll
    of a minute, both tasks still finish well inside the 30 s this test waits."""
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with Segue(url, blob_dir=tmp_path / "blobs") as engine:
        engine.register(QUICK)
        worker = start_worker(url, counters, "--poll-s", "60")
        try:
            for _ in range(2):  # the first proves the worker is up; it is idle before the second
                task = engine.start("quick", run=False)["id"]
                wait_for(lambda t=task: engine.service.status(t).value == "COMPLETED", "woken")
        finally:
            worker.send_signal(signal.SIGTERM)
            _, stderr = worker.communicate(timeout=30)
    assert worker.returncode == 0, stderr  # and it stopped at once, idle with a long poll
    assert "giving their leases back" not in stderr
