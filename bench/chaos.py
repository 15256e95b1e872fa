"""Chaos at scale: SIGKILL a real worker process many times while it runs many tasks.

A benchmark-sized version of tests/acceptance/test_chaos.py. It starts N tasks
of a three-step pipeline whose handlers journal every invocation in a side
SQLite file (outside the engine's database), then K times starts a worker
process, lets it work for a random moment and SIGKILLs it; a last worker
finishes what is left. It reports, and checks:

- tasks finished and lost, steps completed twice (must be 0),
- handler invocations beyond completions (re-runs caused by the kills), per kill,
- tasks whose event log does not replay to their stored state (must be 0),
- how long recovery took after the last kill.

Usage::

    .venv/bin/python bench/chaos.py                      # 1,000 tasks, 50 kills
    .venv/bin/python bench/chaos.py --tasks 200 --kills 10 --json
    .venv/bin/python bench/chaos.py --workers 2          # two at once, killed together

With ``--workers 2`` the worker processes contend for SQLite's writer lock, so
their reports run speculatively and are replayed under it (see
segue.store.speculative): the kills land in speculations and replays alike.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from segue import Segue  # noqa: E402
from segue.core import replay  # noqa: E402
from segue.core.task import EventType  # noqa: E402

T = "tests.support.handlers:t"
STEP = f"type: auto, run: {T}, with: {{ops: [{{journal: calls.db}}, {{jitter: 0.01}}]}}"
PIPELINE = f"""
pipeline: chaos
version: 1
steps:
  - {{id: a, depends_on: [], {STEP}}}
  - {{id: b, {STEP}}}
  - {{id: c, {STEP}}}
"""


def worker(url: str, blobs: Path, lease_s: float) -> subprocess.Popen[bytes]:
    script = textwrap.dedent(f"""
        import threading
        from segue import Segue
        from segue.runtime.worker import Worker
        engine = Segue({url!r}, blob_dir={str(blobs)!r})
        Worker(engine.service, lease_s={lease_s}, poll_s=0.01, batch=8).run_forever(
            threading.Event()
        )
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", script], env=env, cwd=REPO)


def calls(folder: Path) -> Counter[tuple[str, str]]:
    import sqlite3
    from contextlib import closing

    path = folder / "calls.db"
    if not path.exists():
        return Counter()
    with closing(sqlite3.connect(path)) as db:
        return Counter((t, s) for t, s in db.execute("SELECT task, step FROM calls"))


def run(tasks: int, kills: int, lease_s: float, seed: int, workers: int = 1) -> dict[str, Any]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["SEGUE_TEST_COUNTERS"] = str(folder / "counters")
        url, blobs = f"sqlite:///{folder / 'chaos.db'}", folder / "blobs"
        with Segue(url, blob_dir=blobs) as engine:
            engine.register(PIPELINE)
            ids = [engine.start("chaos", run=False)["id"] for _ in range(tasks)]
        done = 0
        while done < kills:
            procs = [worker(url, blobs, lease_s) for _ in range(min(workers, kills - done))]
            time.sleep(0.7 + rng.random())
            for proc in procs:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
            done += len(procs)
        recovery_started = time.monotonic()
        final = worker(url, blobs, lease_s)
        try:
            with Segue(url, blob_dir=blobs) as engine:
                while not all(engine.service.status(t).terminal for t in ids):
                    time.sleep(0.2)
                recovery_s = time.monotonic() - recovery_started
                report = check(engine, ids, calls(folder / "counters"), kills)
        finally:
            final.send_signal(signal.SIGTERM)
            final.wait(60)
    return {
        **report,
        "tasks": tasks,
        "kills": kills,
        "workers_at_once": workers,
        "recovery_s": round(recovery_s, 1),
    }


def check(
    engine: Segue, ids: list[str], invoked: Counter[tuple[str, str]], kills: int
) -> dict[str, Any]:
    completions: Counter[tuple[str, str]] = Counter()
    replay_mismatches = 0
    statuses: Counter[str] = Counter()
    for task_id in ids:
        state = engine.service.get(task_id)
        statuses[state.status.value] += 1
        events = engine.events(task_id)
        replay_mismatches += replay(events) != state
        for e in events:
            if e.type is EventType.STEP_COMPLETED and e.step:
                completions[(task_id, e.step)] += 1
    extra = sum(invoked.values()) - sum(completions.values())
    return {
        "statuses": dict(statuses),
        "lost": len(ids) - sum(statuses.values()),
        "steps_completed_twice": sum(1 for n in completions.values() if n > 1),
        "invocations": sum(invoked.values()),
        "completions": sum(completions.values()),
        "reruns_caused_by_kills": extra,
        "reruns_per_kill": round(extra / kills, 2) if kills else 0.0,
        "replay_mismatches": replay_mismatches,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--lease", type=float, default=1.0, help="lease seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1, help="worker processes at once")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = run(args.tasks, args.kills, args.lease, args.seed, max(1, args.workers))
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for key, value in report.items():
        print(f"{key:<24} {value}")
    ok = (
        report["lost"] == 0
        and report["steps_completed_twice"] == 0
        and report["replay_mismatches"] == 0
        and report["statuses"] == {"COMPLETED": args.tasks}
    )
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
