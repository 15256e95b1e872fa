"""Real handlers the test suite registers (the SCENARIOS.md ``t.*`` operations).

One handler, ``tests.support.handlers:t``, runs the operations listed in its
``with: {ops: [...]}`` in order; the artifact is the last one's result:

- ``{emit: X}``: returns X.
- ``{count: K}``: adds 1 to counter K of this task, kept in files under
  ``$SEGUE_TEST_COUNTERS`` (outside the engine's database), returns ``{counter, n}``.
- ``{fail_first: N}``: raises on attempts 1..N.
- ``{fail_while: F}``: raises while the flag file F exists in the counters folder.
- ``{hold: G}``: blocks until the gate file G exists in the counters folder.
- ``{sleep: S}``: sleeps S seconds, returns ``{}``.
- ``{blob: N}``: returns ``{blob: 'x' * N}``.
- ``{record_key: K}``: appends the idempotency key to a file named after K.
- ``{journal: FILE}``: records this invocation (task, step, attempt, pid) in the SQLite
  file FILE of the counters folder, outside the engine's database.
- ``{jitter: S}``: sleeps a random time up to S seconds.
- ``{record_pid: N}``: appends the handler's process id to ``N.pid``.
- ``{overlap: S}``: holds a slot for S seconds; :func:`most_at_once` tells the peak.
- ``{until_cancelled: S}``: waits up to S seconds for ``ctx.cancelled``, then writes
  ``cancelled`` or ``ran out`` to ``<task>.<step>.<attempt>.stopped``.
"""

from __future__ import annotations

import fcntl
import os
import random
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from segue import PermanentError, StepContext


def folder() -> Path:
    path = Path(os.environ["SEGUE_TEST_COUNTERS"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def counter(task_id: str, name: str) -> int:
    file = folder() / f"{task_id}.{name}"
    return int(file.read_text()) if file.exists() else 0


def bump(task_id: str, name: str) -> int:
    lock = folder() / ".lock"
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        n = counter(task_id, name) + 1
        (folder() / f"{task_id}.{name}").write_text(str(n))
        return n


def _gauge(change: int) -> None:
    with open(folder() / ".gauge.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        now_file, top_file = folder() / "gauge.now", folder() / "gauge.max"
        now = int(now_file.read_text()) if now_file.exists() else 0
        now += change
        now_file.write_text(str(now))
        top = int(top_file.read_text()) if top_file.exists() else 0
        top_file.write_text(str(max(top, now)))


def occupy(seconds: float) -> None:
    _gauge(+1)
    try:
        time.sleep(seconds)
    finally:
        _gauge(-1)


def most_at_once() -> int:
    """The largest number of ``overlap`` ops that ever ran at the same time."""
    top = folder() / "gauge.max"
    return int(top.read_text()) if top.exists() else 0


def journal(ctx: StepContext, name: str) -> None:
    with sqlite3.connect(folder() / name, timeout=30) as db:
        db.execute("CREATE TABLE IF NOT EXISTS calls (task, step, attempt, pid)")
        db.execute(
            "INSERT INTO calls VALUES (?, ?, ?, ?)",
            (ctx.task_id, ctx.step, ctx.attempt, os.getpid()),
        )


def journal_calls(name: str) -> list[tuple[str, str, int, int]]:
    """Every invocation a ``journal`` op recorded."""
    path = folder() / name
    if not path.exists():
        return []
    with closing(sqlite3.connect(path, timeout=30)) as db:
        try:
            return list(db.execute("SELECT task, step, attempt, pid FROM calls"))
        except sqlite3.OperationalError:  # the file exists, its table is being created
            return []


def t(ctx: StepContext) -> Any:
    result: Any = {}
    for op in ctx.params.get("ops", []):  # type: ignore[union-attr]
        ((name, arg),) = op.items()  # type: ignore[union-attr]
        if name == "emit":
            result = arg
        elif name == "count":
            result = {"counter": arg, "n": bump(ctx.task_id, arg)}
        elif name == "fail_first":
            if ctx.attempt <= arg:
                raise RuntimeError(f"fail_first({arg}): attempt {ctx.attempt} fails")
        elif name == "fail_while":
            if (folder() / arg).exists():
                raise RuntimeError(f"fail_while({arg}): the flag is set")
        elif name == "hold":
            while not (folder() / arg).exists():
                time.sleep(0.02)
        elif name == "sleep":
            time.sleep(float(arg))
            result = {}
        elif name == "permanent":
            raise PermanentError(str(arg))
        elif name == "blob":
            result = {"blob": "x" * int(arg)}
        elif name == "record_key":
            with open(folder() / f"{ctx.task_id}.{arg}.keys", "a") as fh:
                fh.write(ctx.idempotency_key + "\n")
        elif name == "until_cancelled":  # waits up to ARG s for the cancel flag; records it
            flagged = ctx.cancelled.wait(float(arg))
            marker = folder() / f"{ctx.task_id}.{ctx.step}.{ctx.attempt}.stopped"
            partial = marker.with_suffix(".partial")  # readers poll for the marker: no torn read
            partial.write_text("cancelled" if flagged else "ran out")
            partial.replace(marker)
            result = {"cancelled": flagged}
        elif name == "record_pid":  # appends this process's id to <ARG>.pid
            with open(folder() / f"{arg}.pid", "a") as fh:
                fh.write(f"{os.getpid()}\n")
        elif name == "overlap":  # holds a slot for ARG s; the most ever held at once is kept
            occupy(float(arg))
        elif name == "journal":  # one row per invocation, committed before the work goes on
            journal(ctx, str(arg))
        elif name == "jitter":  # sleeps a random time up to ARG seconds
            time.sleep(random.random() * float(arg))
        elif name == "from_upstream":
            step, key = arg.split(".")
            result = {f"from_{step}": ctx.artifacts[step][key]}
        else:
            raise ValueError(f"unknown test op {name!r}")
    return result
