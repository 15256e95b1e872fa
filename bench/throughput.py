"""Segue throughput on SQLite, next to the raw floor of the same disk.

A benchmark, not a test: it runs a doc-shaped pipeline (upload -> abstract ->
directory_confirm (wait_user) -> directory_parse -> embed, every auto step the
built-in passthrough) through the Python API, and in the same run measures
what one stdlib ``sqlite3`` connection can commit with the same durability
(WAL, the same ``synchronous``, busy_timeout, ``BEGIN IMMEDIATE`` ... ``COMMIT``,
one INSERT + one UPDATE per transaction). Floor and engine rounds alternate;
the report gives medians (and the min..max spread) over the rounds.

Counting:

- *durable transitions* are committed store transactions that changed a task
  (an INSERT into or UPDATE of ``segue_tasks``), counted by SQLAlchemy
  ``commit`` / ``before_cursor_execute`` listeners on ``store.engine``.
  "commits/s" below means these.
- *empty commits* are COMMITs of transactions that wrote nothing (they cost a
  ``BEGIN IMMEDIATE`` round but no WAL write and no fsync).
- *read txns* are transactions that ended in a rollback (reads).
- *events* are the task's final ``revision``, checked against its event log.

Usage::

    .venv/bin/python bench/throughput.py                 # FULL and NORMAL tables
    .venv/bin/python bench/throughput.py --tasks 50 --rounds 3 --json
    .venv/bin/python bench/throughput.py --profile 100   # cProfile one FULL round
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from segue import Segue
from segue.runtime.memory import freeze_startup_objects
from segue.runtime.worker import Worker
from segue.store import SqlStore

PIPELINE_YAML = """\
pipeline: bench_doc
version: 1
title: Benchmark document pipeline
description: The doc_ingest shape with passthrough handlers.
steps:
  - id: upload
    type: auto
    depends_on: []
    run: segue.builtins:passthrough
  - id: abstract
    type: auto
    title: Draft the outline
    run: segue.builtins:passthrough
  - id: directory_confirm
    type: wait_user
    title: Confirm the outline
    prefill: "artifacts.abstract"
    input_schema:
      type: object
      required: [directory]
      additionalProperties: false
      properties:
        directory:
          type: array
          minItems: 1
          items:
            type: object
            required: [title, level]
            additionalProperties: false
            properties:
              title: {type: string, minLength: 1, maxLength: 500}
              level: {type: integer, minimum: 1, maximum: 6}
              anchor: {type: string, description: "Text the section starts with"}
  - id: directory_parse
    type: auto
    title: Split by the final outline
    run: segue.builtins:passthrough
  - id: embed
    type: auto
    title: Embed the sections
    run: segue.builtins:passthrough
"""
PIPELINE = "bench_doc"
WAIT_STEP = "directory_confirm"
USER_INPUT = {"directory": [{"title": "Intro", "level": 1}]}

BUSY_TIMEOUT_MS = 30_000
WARMUP_TASKS = 10
REPO_ROOT = Path(__file__).resolve().parent.parent


SYNCHRONOUS_LEVELS = {"OFF": 0, "NORMAL": 1, "FULL": 2, "EXTRA": 3}


def check_pragmas(dbapi_conn: Any, synchronous: str) -> None:
    """Fail unless the connection really is in WAL mode at the synchronous level asked for."""
    mode = dbapi_conn.execute("PRAGMA journal_mode").fetchone()[0]
    level = dbapi_conn.execute("PRAGMA synchronous").fetchone()[0]
    busy = dbapi_conn.execute("PRAGMA busy_timeout").fetchone()[0]
    if mode.lower() != "wal" or level != SYNCHRONOUS_LEVELS[synchronous] or busy <= 0:
        raise RuntimeError(
            f"expected WAL/{synchronous}/busy_timeout, got {mode}/synchronous={level}/{busy}"
        )


# -- counting transactions -----------------------------------------------------------


def store_of(segue: Segue) -> SqlStore:
    assert isinstance(segue.store, SqlStore)
    return segue.store


@dataclass
class TxCounts:
    commits: int = 0
    task_commits: int = 0
    write_commits: int = 0
    rollbacks: int = 0
    statements: int = 0
    replayed: int = 0
    """Speculative runs whose writes were replayed under the lock (see
    segue.store.speculative; only while another process contends for it)."""
    conflicted: int = 0
    """Speculative runs that found what they read changed, and ran again under the lock."""
    abandoned: int = 0
    """Speculative runs that raised or needed a read no replay can check."""

    def minus(self, other: TxCounts) -> TxCounts:
        return TxCounts(**{k: v - getattr(other, k) for k, v in asdict(self).items()})


class TxCounter:
    """Counts COMMITs on an engine, and which of them wrote rows.

    The store runs its hot-path statements on the DBAPI cursor, so statements are
    not seen by SQLAlchemy's events; a transaction "wrote" when SQLite's
    ``total_changes`` moved between its BEGIN and its COMMIT. Every write
    transaction of the engine changes at least one task (durable transition).
    """

    def __init__(self, store: SqlStore) -> None:
        self.counts = TxCounts()
        self.store = store
        engine = store.engine
        sa.event.listen(engine, "begin", self._begin)
        sa.event.listen(engine, "commit", self._commit)
        sa.event.listen(engine, "rollback", self._rollback)

    def snapshot(self) -> TxCounts:
        return TxCounts(**{**asdict(self.counts), **self.store.speculations})

    @staticmethod
    def _changes(conn: Any) -> int:
        return int(conn.connection.dbapi_connection.total_changes)

    def _begin(self, conn: Any) -> None:
        conn.info["bench_changes"] = self._changes(conn)

    def _commit(self, conn: Any) -> None:
        c = self.counts
        c.commits += 1
        if self._changes(conn) != conn.info.pop("bench_changes", -1):
            c.write_commits += 1
            c.task_commits += 1

    def _rollback(self, conn: Any) -> None:
        self.counts.rollbacks += 1
        conn.info.pop("bench_changes", None)


# -- the engine ----------------------------------------------------------------------


@dataclass
class EngineRound:
    tasks: int
    seconds: float
    cpu_seconds: float
    events: int
    commits: int
    durable_commits: int
    write_commits: int
    empty_commits: int
    read_txns: int
    statements: int
    threads_alive_after: int
    context_switches: int = 0
    """Voluntary context switches of this process (a thread blocking: a lock, the GIL, I/O)."""
    replayed: int = 0
    conflicted: int = 0
    abandoned: int = 0

    @property
    def tasks_per_s(self) -> float:
        return self.tasks / self.seconds

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds

    @property
    def commits_per_s(self) -> float:
        return self.durable_commits / self.seconds

    @property
    def all_commits_per_s(self) -> float:
        return self.commits / self.seconds


class WorkerProcess:
    """A worker in its own process on the same database file (``--as-worker``).

    It reads commands on stdin: ``report`` answers one JSON line with its commit
    counts and CPU seconds so far; ``stop`` ends it.
    """

    def __init__(self, url: str, synchronous: str, batch: int, cpu: int | None) -> None:
        pin = "-" if cpu is None else str(cpu)
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--as-worker", url, synchronous, str(batch), pin],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def report(self) -> tuple[TxCounts, float]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("report\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        while not line.startswith('{"commits"'):  # a log line (UNSAFE at NORMAL) goes first
            if not line:
                raise RuntimeError(f"worker process {self.proc.pid} ended")
            line = self.proc.stdout.readline()
        data = json.loads(line)
        cpu = data.pop("cpu")
        return TxCounts(**data), cpu

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("stop\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def worker_main(url: str, synchronous: str, batch: int, cpu: int | None) -> int:
    """The ``--as-worker`` process (on core ``cpu``, if given): run auto steps until told
    to stop."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    segue = Segue(url, sqlite_synchronous=synchronous, allow_unsafe=synchronous != "FULL")
    counter = TxCounter(store_of(segue))
    worker = Worker(segue.service, batch=batch, poll_s=1.0)  # as segue worker: commits wake it
    stop = threading.Event()
    freeze_startup_objects()  # as `segue worker` does once set up
    thread = threading.Thread(target=worker.run_forever, args=(stop,), name="bench-worker")
    thread.start()
    try:
        for line in sys.stdin:
            if line.strip() == "report":
                counts = {**asdict(counter.snapshot()), "cpu": time.process_time()}
                print(json.dumps(counts), flush=True)
            elif line.strip() == "stop":
                break
    finally:
        stop.set()
        thread.join()
        worker.close()
        segue.close()
    return 0


class EngineBench:
    def __init__(
        self,
        workdir: Path,
        synchronous: str,
        inflight: int = 1,
        worker_processes: int = 0,
        clients: int = 1,
        cpus: Sequence[int] = (),
    ) -> None:
        self.inflight = inflight
        self.clients = clients
        self.db_path = workdir / f"bench-{synchronous.lower()}.db"
        url = f"sqlite:///{self.db_path}"
        self.segue = Segue(url, sqlite_synchronous=synchronous, allow_unsafe=synchronous != "FULL")
        self.segue.register(PIPELINE_YAML)
        with self.segue.store.engine.connect() as conn:
            check_pragmas(conn.connection.dbapi_connection, synchronous)
        self.counter = TxCounter(store_of(self.segue))
        self.last_id = ""
        batch = max(8, inflight // max(1, worker_processes))
        self.workers = [  # pinned: this process has the first core, worker i the next
            WorkerProcess(url, synchronous, batch, cpus[(i + 1) % len(cpus)] if cpus else None)
            for i in range(worker_processes)
        ]

    def counts(self) -> tuple[TxCounts, float]:
        """Commit counts and CPU seconds so far, of this process and its worker processes."""
        counts, cpu = self.counter.snapshot(), time.process_time()
        for worker in self.workers:
            theirs, their_cpu = worker.report()
            counts = TxCounts(**{k: v + getattr(theirs, k) for k, v in asdict(counts).items()})
            cpu += their_cpu
        return counts, cpu

    def run_task(self) -> int:
        """One task start to finish; returns its final revision (= its event count)."""
        s = self.segue
        view = s.start(PIPELINE, {})
        if view["status"] != "WAITING_USER":
            raise AssertionError(f"task {view['id']} is {view['status']}, not WAITING_USER")
        view = s.advance(view["id"], WAIT_STEP, USER_INPUT)
        if view["status"] != "COMPLETED":
            raise AssertionError(f"task {view['id']} is {view['status']}, not COMPLETED")
        self.last_id = str(view["id"])
        return int(view["revision"])

    @staticmethod
    def statuses(conn: sqlite3.Connection, ids: set[str]) -> dict[str, str]:
        """The client's cheap poll: the status of its own open tasks, one query on the
        client's own read connection (a remote client would ask the API, or follow the
        task's event stream)."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = conn.execute(f"SELECT id, status FROM segue_tasks WHERE id IN ({marks})", tuple(ids))
        return dict(rows.fetchall())

    def run_inflight(self, tasks: int) -> int:
        """``tasks`` tasks, up to ``self.inflight`` at once: a worker thread runs the auto
        steps in batches while ``self.clients`` client threads start tasks and answer
        each wait step as soon as it opens. Returns the events of all the tasks."""
        service = self.segue.service
        stop = threading.Event()
        worker = Worker(service, batch=max(8, self.inflight), poll_s=0.01)
        thread = threading.Thread(target=worker.run_forever, args=(stop,), name="bench-worker")
        if not self.workers:
            thread.start()
        n = self.clients
        shares = [
            (tasks // n + (i < tasks % n), max(1, self.inflight // n + (i < self.inflight % n)))
            for i in range(n)
        ]
        errors: list[BaseException] = []

        def client(count: int, slots: int) -> None:
            try:
                self.client(count, slots)
            except BaseException as exc:
                errors.append(exc)

        clients = [threading.Thread(target=client, args=share) for share in shares]
        try:
            for c in clients:
                c.start()
            for c in clients:
                c.join()
        finally:
            stop.set()
            if thread.is_alive():
                thread.join()
            worker.close()
        if errors:
            raise errors[0]
        return tasks * int(self.segue.get(self.last_id)["revision"])

    def client(self, tasks: int, slots: int) -> None:
        """One client: ``tasks`` tasks, ``slots`` at a time, each answered as it waits."""
        service = self.segue.service
        changed = threading.Event()
        open_ids: set[str] = set()

        def mine(task_ids: frozenset[str]) -> None:  # wake only for this client's tasks
            if not task_ids.isdisjoint(open_ids):
                changed.set()

        service.on_task_change(mine)
        # Other processes' changes are not announced here: poll often.
        poll_s = 0.002 if self.workers else 0.05
        started = 0
        reader = sqlite3.connect(self.db_path, check_same_thread=False)
        try:
            while started < tasks or open_ids:
                while started < tasks and len(open_ids) < slots:
                    open_ids.add(str(service.start(PIPELINE, {})["id"]))
                    started += 1
                changed.wait(poll_s)
                changed.clear()
                for task_id, status in self.statuses(reader, open_ids).items():
                    if status == "WAITING_USER":
                        service.advance(task_id, WAIT_STEP, USER_INPUT)
                    elif status == "COMPLETED":
                        open_ids.discard(task_id)
                        self.last_id = task_id
        finally:
            reader.close()
            service.off_task_change(mine)

    def round(self, tasks: int) -> EngineRound:
        gc.collect()
        before, cpu = self.counts()
        switches = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw
        events = 0
        start = time.perf_counter()
        if self.inflight > 1 or self.workers or self.clients > 1:
            events = self.run_inflight(tasks)
        else:
            for _ in range(tasks):
                events += self.run_task()
        seconds = time.perf_counter() - start
        switches = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw - switches
        after, cpu_after = self.counts()
        cpu_seconds = cpu_after - cpu
        delta = after.minus(before)
        # Outside the timing: the revision really is the event count.
        logged = len(self.segue.events(self.last_id))
        revision = int(self.segue.get(self.last_id)["revision"])
        if logged != revision:
            raise AssertionError(f"revision {revision} != {logged} events")
        return EngineRound(
            tasks=tasks,
            seconds=seconds,
            cpu_seconds=cpu_seconds,
            events=events,
            commits=delta.commits,
            durable_commits=delta.task_commits,
            write_commits=delta.write_commits,
            empty_commits=delta.commits - delta.write_commits,
            read_txns=delta.rollbacks,
            statements=delta.statements,
            threads_alive_after=threading.active_count(),
            context_switches=switches,
            replayed=delta.replayed,
            conflicted=delta.conflicted,
            abandoned=delta.abandoned,
        )

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.segue.close()


# -- the floor -----------------------------------------------------------------------


@dataclass
class FloorRound:
    commits: int
    seconds: float
    cpu_seconds: float

    @property
    def commits_per_s(self) -> float:
        return self.commits / self.seconds


class FloorBench:
    """One stdlib connection, the engine's durability, 1 INSERT + 1 UPDATE per commit."""

    ROWS = 100

    def __init__(self, workdir: Path, synchronous: str) -> None:
        self.conn = sqlite3.connect(
            workdir / f"floor-{synchronous.lower()}.db",
            isolation_level=None,
            check_same_thread=False,
        )
        c = self.conn
        c.execute("PRAGMA journal_mode=WAL")
        c.execute(f"PRAGMA synchronous={synchronous}")
        c.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        check_pragmas(c, synchronous)
        c.execute(
            "CREATE TABLE state (id INTEGER PRIMARY KEY, revision INTEGER NOT NULL, "
            "body TEXT NOT NULL)"
        )
        c.execute(
            "CREATE TABLE log (id INTEGER PRIMARY KEY, task INTEGER NOT NULL, "
            "revision INTEGER NOT NULL, data TEXT NOT NULL)"
        )
        c.executemany("INSERT INTO state VALUES (?, 0, '{}')", [(i,) for i in range(self.ROWS)])
        self.body = json.dumps({"steps": {f"s{i}": {"status": "DONE"} for i in range(5)}})
        self.n = 0

    def round(self, commits: int) -> FloorRound:
        gc.collect()
        c = self.conn
        body = self.body
        rows = self.ROWS
        cpu = time.process_time()
        start = time.perf_counter()
        for _ in range(commits):
            self.n += 1
            row = self.n % rows
            c.execute("BEGIN IMMEDIATE")
            c.execute(
                "INSERT INTO log (task, revision, data) VALUES (?, ?, ?)",
                (row, self.n, '{"type":"step_completed"}'),
            )
            c.execute(
                "UPDATE state SET revision = revision + 1, body = ? WHERE id = ?", (body, row)
            )
            c.execute("COMMIT")
        seconds = time.perf_counter() - start
        return FloorRound(commits, seconds, time.process_time() - cpu)

    def close(self) -> None:
        self.conn.close()


# -- the run -------------------------------------------------------------------------


@dataclass
class ModeResult:
    synchronous: str
    engine: list[EngineRound] = field(default_factory=list)
    floor: list[FloorRound] = field(default_factory=list)
    floor_commits_per_round: int = 0

    def summary(self) -> dict[str, Any]:
        e, f = self.engine, self.floor
        tasks = sum(r.tasks for r in e)

        def stat(values: list[float]) -> dict[str, float]:
            return {"median": statistics.median(values), "min": min(values), "max": max(values)}

        engine_commits = stat([r.commits_per_s for r in e])
        floor_commits = stat([r.commits_per_s for r in f])
        return {
            "synchronous": self.synchronous,
            "engine": {
                "tasks_per_s": stat([r.tasks_per_s for r in e]),
                "events_per_s": stat([r.events_per_s for r in e]),
                "durable_commits_per_s": engine_commits,
                "all_commits_per_s": stat([r.all_commits_per_s for r in e]),
                "ms_per_task": stat([1000 * r.seconds / r.tasks for r in e]),
                "ms_per_durable_commit": stat([1000 * r.seconds / r.durable_commits for r in e]),
                "cpu_ms_per_task": stat([1000 * r.cpu_seconds / r.tasks for r in e]),
                "cpu_ms_per_durable_commit": stat(
                    [1000 * r.cpu_seconds / r.durable_commits for r in e]
                ),
                "per_task": {
                    "events": sum(r.events for r in e) / tasks,
                    "durable_commits": sum(r.durable_commits for r in e) / tasks,
                    "empty_commits": sum(r.empty_commits for r in e) / tasks,
                    "read_txns": sum(r.read_txns for r in e) / tasks,
                    "sql_statements": sum(r.statements for r in e) / tasks,
                    "context_switches": sum(r.context_switches for r in e) / tasks,
                    "replayed": sum(r.replayed for r in e) / tasks,
                    "conflicted": sum(r.conflicted for r in e) / tasks,
                    "abandoned": sum(r.abandoned for r in e) / tasks,
                },
                "max_threads_alive_after_round": max(r.threads_alive_after for r in e),
            },
            "floor": {
                "commits_per_round": self.floor_commits_per_round,
                "commits_per_s": floor_commits,
                "ms_per_commit": stat([1000 * r.seconds / r.commits for r in f]),
                "cpu_ms_per_commit": stat([1000 * r.cpu_seconds / r.commits for r in f]),
            },
            "ratio_engine_over_floor_commits": engine_commits["median"] / floor_commits["median"],
            "ratio_transitions_over_floor_commits": statistics.median(r.events_per_s for r in e)
            / floor_commits["median"],
            "rounds": {
                "engine": [asdict(r) for r in e],
                "floor": [asdict(r) for r in f],
            },
        }


def run(
    workdir: Path,
    modes: Sequence[str],
    tasks: int,
    rounds: int,
    progress: Callable[[str], None],
    inflight: int = 1,
    worker_processes: int = 0,
    clients: int = 1,
    cpus: Sequence[int] = (),
) -> list[ModeResult]:
    benches: list[tuple[ModeResult, EngineBench, FloorBench]] = []
    try:
        for mode in modes:
            engine = EngineBench(workdir, mode, inflight, worker_processes, clients, cpus)
            floor = FloorBench(workdir, mode)
            result = ModeResult(mode)
            benches.append((result, engine, floor))
            # Warm up (imports, spec cache, pool) and learn commits per task, so a
            # floor round commits as many transactions as an engine round does.
            warm = engine.round(WARMUP_TASKS)
            per_task = warm.durable_commits / warm.tasks
            result.floor_commits_per_round = max(1, round(per_task * tasks))
            floor.round(min(500, result.floor_commits_per_round))
        freeze_startup_objects()  # as `segue serve` and `segue worker` do once set up
        for i in range(rounds):
            for result, engine, floor in benches:
                result.floor.append(floor.round(result.floor_commits_per_round))
                result.engine.append(engine.round(tasks))
                progress(
                    f"round {i + 1}/{rounds} {result.synchronous}: floor "
                    f"{result.floor[-1].commits_per_s:,.0f} commits/s, engine "
                    f"{result.engine[-1].tasks_per_s:,.1f} tasks/s "
                    f"{result.engine[-1].commits_per_s:,.0f} commits/s"
                )
    finally:
        for _, engine, floor in benches:
            engine.close()
            floor.close()
    return [result for result, _, _ in benches]


def environment(workdir: Path) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sa.__version__,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "dir": str(workdir.parent),
    }


def fmt_stat(s: dict[str, float], digits: int = 0) -> tuple[str, str]:
    return (f"{s['median']:,.{digits}f}", f"{s['min']:,.{digits}f}..{s['max']:,.{digits}f}")


def render(summaries: list[dict[str, Any]], env: dict[str, Any], tasks: int, rounds: int) -> str:
    lines = [
        f"Segue throughput: {PIPELINE} (5 steps, 1 wait_user), SQLite WAL, "
        f"{rounds} rounds x {tasks} tasks, medians (min..max over rounds)",
        f"Python {env['python']}, SQLite {env['sqlite']}, SQLAlchemy {env['sqlalchemy']}, "
        f"{env['platform']}, {env['cpus']} CPUs, on {env['dir']}",
    ]
    for s in summaries:
        e, f = s["engine"], s["floor"]
        rows = [
            ("tasks/s", *fmt_stat(e["tasks_per_s"], 1), "", ""),
            ("events/s", *fmt_stat(e["events_per_s"]), "", ""),
            (
                "commits/s (durable transitions)",
                *fmt_stat(e["durable_commits_per_s"]),
                *fmt_stat(f["commits_per_s"]),
            ),
            ("all COMMITs/s (incl. empty)", *fmt_stat(e["all_commits_per_s"]), "", ""),
            (
                "ms per durable commit",
                *fmt_stat(e["ms_per_durable_commit"], 3),
                *fmt_stat(f["ms_per_commit"], 3),
            ),
            (
                "CPU ms per durable commit",
                *fmt_stat(e["cpu_ms_per_durable_commit"], 3),
                *fmt_stat(f["cpu_ms_per_commit"], 3),
            ),
            ("ms per task", *fmt_stat(e["ms_per_task"], 2), "", ""),
            ("CPU ms per task", *fmt_stat(e["cpu_ms_per_task"], 2), "", ""),
        ]
        head = ("", "engine", "(spread)", "floor", "(spread)")
        widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(5)]
        lines += ["", f"synchronous={s['synchronous']}"]
        for r in [head, *rows]:
            lines.append(
                "  "
                + r[0].ljust(widths[0])
                + "".join("  " + str(c).rjust(w) for c, w in zip(r[1:], widths[1:], strict=True))
            )
        pt = e["per_task"]
        lines += [
            f"  durable transitions (events)/s / floor commits/s: "
            f"{s['ratio_transitions_over_floor_commits']:.3f}",
            f"  engine commits/s / floor commits/s: {s['ratio_engine_over_floor_commits']:.3f}"
            f"  (floor: {f['commits_per_round']} commits per round)",
            f"  per task: {pt['events']:g} events (state transitions), "
            f"{pt['durable_commits']:g} write commits, {pt['empty_commits']:g} empty commits, "
            f"{pt['read_txns']:g} read txns, "
            f"{pt['context_switches']:.1f} voluntary context switches (this process)",
            f"  speculative transactions per task: {pt['replayed']:.2f} replayed, "
            f"{pt['conflicted']:.2f} conflicted, {pt['abandoned']:.2f} abandoned",
            f"  threads alive after a round (max): {e['max_threads_alive_after_round']}",
        ]
    return "\n".join(lines)


def overview(levels: list[dict[str, Any]]) -> str:
    """One line per level and mode: the figures the README quotes."""
    head = (
        "in flight | clients | sync   | tasks/s | transitions/s | floor commits/s | ratio "
        "| CPU ms/task | commits/task"
    )
    lines = [head, "-" * len(head)]
    for level in levels:
        for s in level["modes"]:
            e, f = s["engine"], s["floor"]
            lines.append(
                f"{level['inflight']:>9} | {level['clients']:>7} | {s['synchronous']:<6} | "
                f"{e['tasks_per_s']['median']:>7.0f} | {e['events_per_s']['median']:>13,.0f} | "
                f"{f['commits_per_s']['median']:>15,.0f} | "
                f"{s['ratio_transitions_over_floor_commits']:>5.2f} | "
                f"{e['cpu_ms_per_task']['median']:>11.2f} | "
                f"{e['per_task']['durable_commits']:>12.2f}"
            )
    return "\n".join(lines)


def profile(workdir: Path, tasks: int, synchronous: str, top: int) -> str:
    engine = EngineBench(workdir, synchronous)
    try:
        engine.round(WARMUP_TASKS)
        freeze_startup_objects()
        profiler = cProfile.Profile()
        profiler.enable()
        result = engine.round(tasks)
        profiler.disable()
    finally:
        engine.close()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    header = (
        f"cProfile of one {synchronous} round: {tasks} tasks in {result.seconds:.2f}s "
        f"(profiled), {result.durable_commits} durable commits, "
        f"{result.commits} COMMITs, {result.read_txns} read txns"
    )
    return header + "\n" + out.getvalue()


def levels_list(text: str) -> list[int]:
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of numbers") from None
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("tasks in flight must be positive numbers")
    return levels


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--as-worker"]:
        url, synchronous, batch, pin = argv[1:5]
        return worker_main(url, synchronous, int(batch), None if pin == "-" else int(pin))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=200, help="tasks per round (200)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per mode (5)")
    parser.add_argument(
        "--modes", default="FULL,NORMAL", help="synchronous modes, comma-separated (FULL,NORMAL)"
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=REPO_ROOT,
        help="where to make the temporary databases (default: the repo)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument(
        "--inflight",
        type=levels_list,
        default=[1],
        help="tasks in flight at once, or a list such as 1,8,32 (1: one task after another "
        "through the Python API; N: a worker thread with batches, client threads "
        "answering wait steps as they open)",
    )
    parser.add_argument(
        "--clients",
        type=int,
        default=0,
        metavar="N",
        help="client threads sharing the tasks in flight, as concurrent API requests would "
        "(default: 4, or as many as the tasks in flight if fewer)",
    )
    parser.add_argument(
        "--worker-processes",
        type=int,
        default=0,
        metavar="N",
        help="run the auto steps in N worker processes on the same database file instead "
        "of a worker thread beside the client (0)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin this process to its first allowed core and each worker process to the "
        "next one (as taskset -c or systemd's CPUAffinity= would)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        help="instead: cProfile one round of N tasks (first mode)",
    )
    parser.add_argument("--top", type=int, default=15, help="profile rows to show (15)")
    args = parser.parse_args(argv)
    modes = [m.strip().upper() for m in args.modes.split(",") if m.strip()]
    if args.tasks < 1 or args.rounds < 1 or not modes:
        parser.error("--tasks and --rounds must be positive and --modes non-empty")

    cpus = sorted(os.sched_getaffinity(0)) if args.pin else []
    if cpus:
        os.sched_setaffinity(0, {cpus[0]})
    workdir = Path(tempfile.mkdtemp(prefix=".segue-bench-", dir=args.dir)).resolve()
    try:
        if args.profile:
            print(profile(workdir, args.profile, modes[0], args.top))
            return 0

        def progress(message: str) -> None:
            print(message, file=sys.stderr, flush=True)

        started = time.perf_counter()
        levels = []
        for inflight in args.inflight:
            clients = args.clients or (1 if inflight == 1 else min(4, inflight))
            level_dir = workdir / f"inflight-{inflight}"
            level_dir.mkdir()
            results = run(
                level_dir,
                modes,
                args.tasks,
                args.rounds,
                progress,
                inflight,
                args.worker_processes,
                clients,
                cpus,
            )
            levels.append(
                {
                    "inflight": inflight,
                    "clients": clients,
                    "worker_processes": args.worker_processes,
                    "pinned": args.pin,
                    "modes": [r.summary() for r in results],
                }
            )
        env = environment(workdir)
        wall = time.perf_counter() - started
        if args.json:
            print(
                json.dumps(
                    {
                        "pipeline": PIPELINE,
                        "tasks_per_round": args.tasks,
                        "rounds": args.rounds,
                        "wall_seconds": wall,
                        "environment": env,
                        "levels": levels,
                    },
                    indent=2,
                )
            )
        else:
            for level in levels:
                worker = (
                    f"{level['worker_processes']} worker processes"
                    if level["worker_processes"]
                    else "a worker thread"
                ) + (", pinned" if level["pinned"] else "")
                print(
                    f"\n== {level['inflight']} in flight: {level['clients']} client "
                    f"thread(s), {worker} =="
                )
                print(render(level["modes"], env, args.tasks, args.rounds))
            print("\n" + overview(levels))
            print(f"\n(wall time {wall:.1f}s)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
