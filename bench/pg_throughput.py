"""Scale-out throughput: durable step transitions/s with 1, 2 and 4 worker processes, on
PostgreSQL and on SQLite, next to each backend's floor measured in the same run.

A benchmark, not a test. For each backend:

- **floor**: the same small transaction (one INSERT into a log table, one UPDATE
  of a counter row, COMMIT), from 1 connection and from 8 connections (8
  processes, each updating its own row), with the durability Segue runs with
  (PostgreSQL: fsync and synchronous_commit on; SQLite: WAL, synchronous=FULL,
  BEGIN IMMEDIATE). The figure is commits/s.
- **engine**: W ``segue worker`` processes (W = 1, 2, 4; 4 handler threads and
  batches of 32 each) on one fresh database run the doc-shaped pipeline (upload
  -> abstract -> directory_confirm (wait_user) -> directory_parse -> embed, no-op
  handlers) while this process, the client, keeps ``--inflight`` tasks open:
  it starts tasks and answers each wait step as soon as it opens. The figure is
  *durable step transitions/s*: events committed per second (each event is one
  change of a task's state, committed before it is acknowledged; a task's
  revision is its event count, checked), from the first start to the last
  completion.

The ratio reported is engine transitions/s over the 8-connection floor's
commits/s (the mean of the floor taken before and after the engine runs: the
machine may be shared). Group commit lets one transaction carry many transitions, so it can
pass 1.

Usage::

    .venv/bin/python bench/pg_throughput.py --pg-url postgresql://postgres@127.0.0.1/test
    .venv/bin/python bench/pg_throughput.py --tasks 200 --json     # SQLite only without a URL
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from segue import Segue

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from throughput import PIPELINE, PIPELINE_YAML, USER_INPUT, WAIT_STEP  # noqa: E402

FLOOR_SECONDS = 3.0
WORKER_COUNTS = (1, 2, 4)
PYTHON = (sys.executable, *os.environ.get("BENCH_WORKER_PYTHON_ARGS", "").split())
WORKER_ARGS = ("--concurrency", "4", "--batch", "32", "--poll-s", "0.1")


# -- the floor -----------------------------------------------------------------------


def floor_worker(kind: str, target: str, index: int, start_at: float, end_at: float) -> int:
    """In a child process: commit INSERT+UPDATE transactions between two instants."""
    if kind == "postgres":
        import psycopg

        conn: Any = psycopg.connect(target)
        insert = "INSERT INTO bench_floor_log (conn, at) VALUES (%s, %s)"
        update = "UPDATE bench_floor_counter SET n = n + 1 WHERE id = %s"
    else:
        conn = sqlite3.connect(target, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        insert = "INSERT INTO bench_floor_log (conn, at) VALUES (?, ?)"
        update = "UPDATE bench_floor_counter SET n = n + 1 WHERE id = ?"
    while time.time() < start_at:
        time.sleep(0.001)
    commits = 0
    while time.time() < end_at:
        if kind == "sqlite":
            conn.execute("BEGIN IMMEDIATE")
        conn.execute(insert, (index, time.time()))
        conn.execute(update, (index,))
        conn.commit() if kind == "postgres" else conn.execute("COMMIT")
        commits += 1
    conn.close()
    return commits


def floor(kind: str, target: str, connections: int) -> float:
    """Commits/s of the floor transaction from ``connections`` processes at once."""
    setup(kind, target)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(connections) as pool:
        pool.map(time.sleep, [0.2] * connections)  # every process is up (spawn imports)
        start_at = time.time() + 0.5  # … and connected, before the clock starts
        end_at = start_at + FLOOR_SECONDS
        counts = pool.starmap(
            floor_worker, [(kind, target, i, start_at, end_at) for i in range(connections)]
        )
    return sum(counts) / FLOOR_SECONDS


def setup(kind: str, target: str) -> None:
    rows = [(i, 0) for i in range(16)]
    if kind == "postgres":
        import psycopg

        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS bench_floor_log, bench_floor_counter")
            conn.execute(
                "CREATE TABLE bench_floor_log (id bigserial PRIMARY KEY, conn int, at float8)"
            )
            conn.execute("CREATE TABLE bench_floor_counter (id int PRIMARY KEY, n bigint)")
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO bench_floor_counter VALUES (%s, %s)", rows)
    else:
        conn = sqlite3.connect(target, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("DROP TABLE IF EXISTS bench_floor_log")
        conn.execute("DROP TABLE IF EXISTS bench_floor_counter")
        conn.execute("CREATE TABLE bench_floor_log (id INTEGER PRIMARY KEY, conn INTEGER, at REAL)")
        conn.execute("CREATE TABLE bench_floor_counter (id INTEGER PRIMARY KEY, n INTEGER)")
        conn.executemany("INSERT INTO bench_floor_counter VALUES (?, ?)", rows)
        conn.close()


# -- the engine ----------------------------------------------------------------------


@dataclass
class EngineRun:
    workers: int
    tasks: int
    seconds: float
    events: int

    @property
    def transitions_per_s(self) -> float:
        return self.events / self.seconds

    @property
    def tasks_per_s(self) -> float:
        return self.tasks / self.seconds


def start_workers(url: str, count: int, folder: Path) -> list[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEGUE_")}
    env["PYTHONPATH"] = str(REPO / "src")
    procs = []
    for i in range(count):
        with (folder / f"worker-{count}-{i}.log").open("ab") as log:
            procs.append(
                subprocess.Popen(
                    [*PYTHON, "-m", "segue", "worker", "--database-url", url, *WORKER_ARGS],
                    cwd=folder,
                    env=env,
                    stdout=log,
                    stderr=log,
                )
            )
    return procs


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def engine_run(
    url: str, workers: int, tasks: int, inflight: int, folder: Path, clients: int
) -> EngineRun:
    """W worker processes; this process, the client, starts tasks and answers their wait
    steps from ``clients`` threads (one thread would cap the run at its own latency)."""
    procs = start_workers(url, workers, folder)
    with Segue(url, blob_dir=folder / "blobs") as segue:
        segue.register(PIPELINE_YAML)
        service = segue.service
        engine = segue.store.engine  # type: ignore[attr-defined]
        waiting = sa.text("SELECT id FROM segue_tasks WHERE status = 'WAITING_USER' LIMIT 500")
        done = sa.text("SELECT count(*) FROM segue_tasks WHERE status = 'COMPLETED'")
        pool = ThreadPoolExecutor(clients, thread_name_prefix="bench-client")
        try:
            time.sleep(3.0)  # the workers have started and are polling
            base = _count(engine, done)
            started = completed = 0
            answered: set[str] = set()
            pending: set[Future[Any]] = set()
            begin = time.perf_counter()
            while completed < tasks:
                while started < tasks and started - completed < inflight:
                    pending.add(pool.submit(service.start, PIPELINE, {}))
                    started += 1
                with engine.connect() as conn:
                    ids = [row[0] for row in conn.execute(waiting) if row[0] not in answered]
                for task_id in ids:
                    answered.add(task_id)
                    pending.add(pool.submit(service.advance, task_id, WAIT_STEP, USER_INPUT))
                finished = {f for f in pending if f.done()}
                for future in finished:
                    future.result()  # a failed start or advance stops the run
                pending -= finished
                completed = _count(engine, done) - base
                time.sleep(0.005)
            seconds = time.perf_counter() - begin
        finally:
            pool.shutdown(wait=True)
            stop_workers(procs)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT id, revision FROM segue_tasks ORDER BY id DESC LIMIT :n"),
                {"n": tasks},
            ).all()
        events = sum(int(r[1]) for r in rows)
        last = rows[0]
        if len(segue.events(last[0])) != int(last[1]):
            raise AssertionError("a task's revision is not its event count")
    return EngineRun(workers=workers, tasks=tasks, seconds=seconds, events=events)


def _count(engine: Any, query: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


# -- databases -----------------------------------------------------------------------


@contextmanager
def pg_schema(url: str) -> Iterator[tuple[str, str]]:
    """A schema of its own: (SQLAlchemy URL, libpq URL), both scoped to it; dropped after."""
    import psycopg

    parsed = make_url(url).set(drivername="postgresql")
    admin = parsed.render_as_string(hide_password=False)
    schema = f"segue_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    scoped = parsed.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield (
            scoped.render_as_string(hide_password=False),
            scoped.render_as_string(hide_password=False),
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def bench_backend(kind: str, pg_url: str | None, args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix=f"segue-bench-{kind}-"))

    def floors_now() -> dict[int, float]:
        if kind == "postgres":
            assert pg_url is not None
            with pg_schema(pg_url) as (_, libpq):
                return {n: floor(kind, libpq, n) for n in (1, 8)}
        return {n: floor(kind, str(folder / "floor.db"), n) for n in (1, 8)}

    try:
        before = floors_now()  # the machine is shared: the floor is taken before and after
        runs = []
        for workers in WORKER_COUNTS:
            if kind == "postgres":
                assert pg_url is not None
                with pg_schema(pg_url) as (url, _):
                    runs.append(
                        engine_run(url, workers, args.tasks, args.inflight, folder, args.clients)
                    )
            else:
                url = f"sqlite:///{folder / f'engine-{workers}.db'}"
                runs.append(
                    engine_run(url, workers, args.tasks, args.inflight, folder, args.clients)
                )
            print(
                f"  {kind}: {workers} worker(s): {runs[-1].transitions_per_s:,.0f} transitions/s",
                file=sys.stderr,
            )
        after = floors_now()
        floors = {n: (before[n] + after[n]) / 2 for n in (1, 8)}
        return {
            "backend": kind,
            "floor_1_commits_per_s": floors[1],
            "floor_8_commits_per_s": floors[8],
            "floor_before": before,
            "floor_after": after,
            "runs": [
                {
                    **asdict(r),
                    "transitions_per_s": r.transitions_per_s,
                    "tasks_per_s": r.tasks_per_s,
                    "ratio_to_floor_8": r.transitions_per_s / floors[8],
                }
                for r in runs
            ],
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", default=os.environ.get("SEGUE_BENCH_PG_URL"))
    parser.add_argument("--tasks", type=int, default=400, help="tasks per engine run")
    parser.add_argument("--inflight", type=int, default=64, help="tasks open at once")
    parser.add_argument("--clients", type=int, default=8, help="client threads")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = []
    for kind in ("postgres", "sqlite") if args.pg_url else ("sqlite",):
        results.append(bench_backend(kind, args.pg_url, args))
    if args.json:
        print(json.dumps({"machine": platform.platform(), "results": results}, indent=2))
        return
    print(
        f"{'backend':10} {'floor 1':>9} {'floor 8':>9} {'W':>2} {'tasks/s':>8} "
        f"{'transitions/s':>14} {'/ floor 8':>9}"
    )
    for result in results:
        for run in result["runs"]:
            print(
                f"{result['backend']:10} {result['floor_1_commits_per_s']:9,.0f} "
                f"{result['floor_8_commits_per_s']:9,.0f} {run['workers']:2} "
                f"{run['tasks_per_s']:8,.0f} {run['transitions_per_s']:14,.0f} "
                f"{run['ratio_to_floor_8']:9.2f}"
            )


if __name__ == "__main__":
    main()
