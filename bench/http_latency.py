"""Latency of the HTTP API (``segue serve``) with many tasks already in the store.

A benchmark, not a test. For each store size N (``--tasks 1000,100000``):

1. **Seed** a fresh SQLite database in this process, before any server runs:
   register the doc-shaped pipeline of ``bench/throughput.py`` and start N
   tasks. Each start does exactly what ``Service.start`` does (defaults and
   check the config, ``core.start``, ``tx.insert_task``, queue the first step
   run), but ``--seed-batch`` starts (1,000) share one transaction, so
   100,000 tasks take seconds rather than a minute. No worker runs meanwhile.
2. **Settle** (unless ``--no-settle``): a real :class:`~segue.runtime.worker.Worker`
   in this process runs every queued step, so the seeded tasks stop at
   ``directory_confirm`` (WAITING_USER), as a store full of tasks waiting for
   people would. Without this, the server's own worker would spend the whole
   run working through an N-task backlog, and the figures would measure that
   backlog rather than the store's size.
3. **Serve**: once every store is seeded, start one ``segue serve --workers 1``
   subprocess per store on a free loopback port and wait for ``/healthz``.
   Through the API, start the tasks that the advance phases will answer, and
   wait until each is WAITING_USER.
4. **Measure**, for each repetition and each client count (1, 16, 64), three
   phases, each run against every store size in turn (the order flips every
   repetition, so a noisy moment of a shared machine hits both sizes). Each
   client is a thread with its own ``httpx.Client`` (one keep-alive
   connection, opened before the clock starts):

   - ``GET /healthz``: the floor (uvicorn + FastAPI + the thread-pool hop, no store);
   - ``GET /tasks/{id}`` on random seeded ids;
   - ``POST /tasks/{id}/advance`` on distinct WAITING_USER tasks, each once.
     The server's worker then runs the steps after it (as in production);
     the next phase starts once every advanced task is COMPLETED.

   A phase ends after ``--requests`` requests (``--advance`` for advances)
   or ``--max-seconds``, whichever comes first. Latency is
   ``time.perf_counter()`` around each request, on the client. The client
   process's garbage collector is off during a phase (a full collection
   stopped every client thread for 100-170 ms: the client's cost, not the
   server's); the server's is left as it is.

The report gives, per store size, client count and request: p50, p99, max,
requests/s, and the server's CPU per request (from ``/proc/<pid>/stat``: all
its threads, so the worker's share is in the advance figure). With several
repetitions each figure is the median over them, and the p99 range is shown.
The clients run closed loops: each sends its next request when the last one
returns. Once the server is saturated, latency ≈ clients ÷ throughput (Little's
law), so the latency at 16 and 64 clients says how fast the server is, not how
long a request would wait on an idle server.

Usage::

    .venv/bin/python bench/http_latency.py                   # N = 1,000 and 100,000
    .venv/bin/python bench/http_latency.py --tasks 1000 --reps 1 --clients 1,16
    .venv/bin/python bench/http_latency.py --json > http.json
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import shutil
import signal
import socket
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

import httpx
from throughput import PIPELINE, PIPELINE_YAML, USER_INPUT, WAIT_STEP

from segue import Segue, core
from segue.core.schemas import violations
from segue.encoding import apply_config_defaults
from segue.runtime.worker import Worker
from segue.service import Service
from segue.types import new_task_id

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # every request of this script goes to this address only
READY_TIMEOUT_S = 60.0
SETTLE_TIMEOUT_S = 120.0
WARMUP_REQUESTS = 300
WARMUP_ADVANCES = 32
CREATE_CLIENTS = 8
ADVANCE_BODY = {"step": WAIT_STEP, "input": USER_INPUT}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

Request = tuple[str, str, Any]
"""(method, path, JSON body or None)."""


def log(message: str) -> None:
    """Progress goes to stderr, so ``--json`` output stays clean."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- seeding (in process, before the server starts) ----------------------------------


@dataclass
class SeedInfo:
    tasks: int
    seed_seconds: float
    settle_seconds: float
    statuses: dict[str, int]
    db_bytes: int
    read_p50_us: float
    read_p99_us: float


def seed(url: str, db_path: Path, n: int, batch: int, settle: bool) -> tuple[list[str], SeedInfo]:
    """Start ``n`` real tasks, ``batch`` per transaction, then (optionally) run their steps."""
    engine = Segue(url)
    try:
        engine.register(PIPELINE_YAML)
        service = engine.service
        spec = service.spec(PIPELINE)
        ids: list[str] = []
        began = time.perf_counter()
        for first in range(0, n, batch):
            # Service.start, step for step, with `batch` starts in one transaction.
            with service.store.transaction() as tx:
                for _ in range(min(batch, n - first)):
                    values = apply_config_defaults(spec.config_schema, {})
                    if violations(spec.config_schema, values):
                        raise RuntimeError("the bench pipeline's default config is invalid")
                    transition = core.start(spec, new_task_id(), values, service.clock.now())
                    tx.insert_task(transition.state, transition.events)
                    service._effects(tx, transition)  # queues the first step run
                    ids.append(transition.state.id)
        seeded = time.perf_counter() - began
        began = time.perf_counter()
        if settle:
            with Worker(service, batch=256) as worker:
                worker.drain()
        settled = time.perf_counter() - began
        reads = timed_reads(service, ids)
    finally:
        engine.close()
    statuses = status_counts(db_path)
    if settle and statuses != {"WAITING_USER": n}:
        raise RuntimeError(f"after settling, expected {n} WAITING_USER tasks, got {statuses}")
    db_bytes = sum(p.stat().st_size for p in db_path.parent.glob(db_path.name + "*"))
    return ids, SeedInfo(
        n, seeded, settled, statuses, db_bytes, percentile(reads, 0.5), percentile(reads, 0.99)
    )


def timed_reads(service: Service, ids: Sequence[str], count: int = 2000) -> list[float]:
    """Microseconds of ``service.view(id)`` (row read, JSON parse, view) on random ids."""
    rng = random.Random(0)
    out = []
    for _ in range(count):
        task_id = rng.choice(ids)
        began = time.perf_counter()
        service.view(task_id)
        out.append((time.perf_counter() - began) * 1e6)
    return sorted(out)


def status_counts(db_path: Path) -> dict[str, int]:
    """Tasks by status, read with a plain read-only connection."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT status, count(*) FROM segue_tasks GROUP BY status").fetchall()
    return {str(status): int(count) for status, count in sorted(rows)}


# -- the server ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Server:
    """``segue serve --workers 1`` in a subprocess, on a free loopback port."""

    def __init__(self, url: str, pipeline_file: Path, log_path: Path) -> None:
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.log_path = log_path
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEGUE_")}
        command = [
            sys.executable,
            "-m",
            "segue.cli.main",
            "--database-url",
            url,
            "serve",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--pipelines",
            str(pipeline_file),
        ]
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=env
        )

    def wait_ready(self) -> float:
        began = time.perf_counter()
        with client(self.base) as http:
            while time.perf_counter() - began < READY_TIMEOUT_S:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"the server exited ({self.proc.returncode}):\n{self.logs()}"
                    )
                try:
                    if http.get("/healthz").status_code == 200:
                        return time.perf_counter() - began
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        raise RuntimeError(f"the server did not answer /healthz in {READY_TIMEOUT_S:.0f} s")

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process (every thread) so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def logs(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self._log.close()


def client(base: str) -> httpx.Client:
    """One keep-alive connection, straight to loopback (no proxy from the environment)."""
    return httpx.Client(
        base_url=base,
        timeout=60.0,
        trust_env=False,
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
    )


# -- load ----------------------------------------------------------------------------


@dataclass
class Phase:
    store_tasks: int
    clients: int
    request: str
    rep: int
    requests: int
    errors: int
    seconds: float
    server_cpu_s: float
    client_cpu_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    first_error: str | None = None

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


class Source:
    """Hands out requests to the client threads until a budget runs out."""

    def __init__(self, make: Callable[[random.Random], Request | None], budget: int) -> None:
        self._make = make
        self._left = budget
        self._lock = threading.Lock()

    def next(self, rng: random.Random) -> Request | None:
        with self._lock:
            if self._left <= 0:
                return None
            self._left -= 1
            return self._make(rng)


@dataclass
class Load:
    latencies: list[float]
    """Seconds, sorted."""
    errors: int
    seconds: float
    server_cpu_s: float
    client_cpu_s: float
    first_error: str | None


def run_clients(
    base: str,
    clients: int,
    source: Source,
    expect: int,
    max_seconds: float,
    server_cpu: Callable[[], float] = lambda: 0.0,
) -> Load:
    """Run ``clients`` closed-loop client threads until ``source`` or the time runs out.

    CPU (the server's, through ``server_cpu``, and this process's) is read just before
    the clients are let go and after the last one is done: connecting is not counted.
    """
    barrier = threading.Barrier(clients + 1)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    ends = [0.0] * clients
    first_error: list[str] = []
    clock: dict[str, float] = {}

    def body(i: int) -> None:
        rng = random.Random(i)
        mine = latencies[i]
        with client(base) as http:
            http.get("/healthz")  # open the connection before the clock starts
            barrier.wait()
            deadline = clock["deadline"]
            perf = time.perf_counter
            while perf() < deadline:
                request = source.next(rng)
                if request is None:
                    break
                method, path, payload = request
                began = perf()
                try:
                    response = http.request(method, path, json=payload)
                    status = response.status_code
                except httpx.HTTPError as exc:
                    status, response = -1, None
                    first_error.append(repr(exc))
                mine.append(perf() - began)
                if status != expect:
                    errors[i] += 1
                    if response is not None:
                        first_error.append(f"{method} {path}: {status} {response.text[:300]}")
            ends[i] = perf()

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    # A collection of the old generation stops every client thread for 100+ ms: a
    # cost of this process, not of the server. Collect now, and not while measuring.
    gc.collect()
    gc.disable()
    try:
        cpu0, own0 = server_cpu(), time.process_time()
        began = time.perf_counter()
        clock["deadline"] = began + max_seconds
        barrier.wait()
        for thread in threads:
            thread.join()
        cpu1, own1 = server_cpu(), time.process_time()
    finally:
        gc.enable()
    return Load(
        latencies=sorted(x for part in latencies for x in part),
        errors=sum(errors),
        seconds=max(ends) - began,
        server_cpu_s=cpu1 - cpu0,
        client_cpu_s=own1 - own0,
        first_error=first_error[0] if first_error else None,
    )


def measure(
    server: Server,
    *,
    store_tasks: int,
    clients: int,
    request: str,
    rep: int,
    source: Source,
    expect: int,
    max_seconds: float,
) -> Phase:
    load = run_clients(server.base, clients, source, expect, max_seconds, server.cpu_seconds)
    latencies = load.latencies
    return Phase(
        store_tasks=store_tasks,
        clients=clients,
        request=request,
        rep=rep,
        requests=len(latencies),
        errors=load.errors,
        seconds=load.seconds,
        server_cpu_s=load.server_cpu_s,
        client_cpu_s=load.client_cpu_s,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        max_ms=(latencies[-1] if latencies else math.nan) * 1000,
        first_error=load.first_error,
    )


def counted(make: Callable[[random.Random], Request], budget: int) -> Source:
    """``budget`` requests made by ``make``, whichever clients send them."""
    return Source(make, budget)


def from_list(requests: Sequence[Request]) -> Source:
    """Each request of the list once, in order, whichever client takes it."""
    it = iter(requests)
    return Source(lambda _rng: next(it, None), len(requests))


def create_waiting(base: str, count: int) -> list[str]:
    """Start ``count`` tasks through the API and wait until each one is WAITING_USER."""
    body = {"pipeline": PIPELINE, "config": {}}
    ids: list[str] = []
    lock = threading.Lock()
    per = [count // CREATE_CLIENTS + (i < count % CREATE_CLIENTS) for i in range(CREATE_CLIENTS)]

    def create(k: int) -> None:
        with client(base) as http:
            for _ in range(k):
                response = http.post("/tasks", json=body)
                if response.status_code != 201:
                    raise RuntimeError(f"POST /tasks: {response.status_code} {response.text}")
                with lock:
                    ids.append(response.json()["id"])

    threads = [threading.Thread(target=create, args=(k,)) for k in per]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if len(ids) != count:
        raise RuntimeError(f"started {len(ids)} of {count} tasks")
    wait_status(base, ids, "WAITING_USER")
    return ids


def wait_status(base: str, ids: Sequence[str], status: str) -> float:
    """Poll each task until it reaches ``status``; returns the seconds it took."""
    began = time.perf_counter()
    pending = list(ids)
    with client(base) as http:
        while pending:
            if time.perf_counter() - began > SETTLE_TIMEOUT_S:
                raise RuntimeError(f"{len(pending)} tasks did not reach {status}")
            still = []
            for i, task_id in enumerate(pending):
                got = http.get(f"/tasks/{task_id}").json()["status"]
                if got in ("FAILED", "CANCELLED"):
                    raise RuntimeError(f"task {task_id} is {got}")
                if got != status:
                    still = pending[i:]  # the worker goes oldest first: look again later
                    break
            pending = still
            if pending:
                time.sleep(0.1)
    return time.perf_counter() - began


# -- one store size ------------------------------------------------------------------


@dataclass
class SizeRun:
    seed: SeedInfo
    server_start_s: float = 0.0
    api_tasks: int = 0
    view_bytes: int = 0
    phases: list[Phase] = field(default_factory=list)
    drain_after_advance_s: list[float] = field(default_factory=list)


@dataclass
class Target:
    """One store size: its seeded ids, its server, and the WAITING_USER tasks to advance."""

    n: int
    ids: list[str]
    run: SizeRun
    server: Server | None = None
    pool: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        assert self.server is not None
        return self.server.base

    def get(self, rng: random.Random) -> Request:
        return ("GET", f"/tasks/{rng.choice(self.ids)}", None)


def healthz(_rng: random.Random) -> Request:
    return ("GET", "/healthz", None)


def advances(task_ids: Sequence[str]) -> Source:
    return from_list([("POST", f"/tasks/{t}/advance", ADVANCE_BODY) for t in task_ids])


def prepare(n: int, args: argparse.Namespace, workdir: Path) -> Target:
    db_path = workdir / f"store-{n}.db"
    log(f"N={n:,}: seeding ({args.seed_batch} starts per transaction)")
    ids, info = seed(f"sqlite:///{db_path}", db_path, n, args.seed_batch, args.settle)
    log(
        f"N={n:,}: seeded in {info.seed_seconds:.1f} s, settled in {info.settle_seconds:.1f} s, "
        f"{info.statuses}, {info.db_bytes / 1e6:.0f} MB; in-process view read "
        f"p50 {info.read_p50_us:.0f} us, p99 {info.read_p99_us:.0f} us"
    )
    return Target(n=n, ids=ids, run=SizeRun(seed=info))


def start_server(target: Target, args: argparse.Namespace, workdir: Path) -> None:
    """Serve the target's store, start its advance tasks through the API, warm it up."""
    n = target.n
    pipeline_file = workdir / "bench_doc.yaml"
    pipeline_file.write_text(PIPELINE_YAML)
    url = f"sqlite:///{workdir / f'store-{n}.db'}"
    target.server = server = Server(url, pipeline_file, workdir / f"server-{n}.log")
    target.run.server_start_s = server.wait_ready()
    need = args.advance * len(args.clients) * args.reps + WARMUP_ADVANCES
    log(
        f"N={n:,}: server (pid {server.proc.pid}) up in {target.run.server_start_s:.1f} s; "
        f"starting {need} tasks through the API"
    )
    pool = create_waiting(server.base, need)
    target.run.api_tasks = need
    with client(server.base) as http:
        target.run.view_bytes = len(http.get(f"/tasks/{target.ids[0]}").content)
    # Warm-up: not recorded.
    for source in (counted(healthz, WARMUP_REQUESTS), counted(target.get, WARMUP_REQUESTS)):
        run_clients(server.base, 4, source, 200, args.max_seconds)
    warm, target.pool = pool[:WARMUP_ADVANCES], pool[WARMUP_ADVANCES:]
    run_clients(server.base, 4, advances(warm), 200, args.max_seconds)
    wait_status(server.base, warm, "COMPLETED")


def measure_all(targets: Sequence[Target], args: argparse.Namespace) -> None:
    """Every phase, the store sizes side by side (their order flips every repetition)."""
    for rep in range(args.reps):
        order = list(targets) if rep % 2 == 0 else list(reversed(targets))
        for clients in args.clients:
            for request in REQUESTS:
                for t in order:
                    assert t.server is not None
                    if request == "POST /tasks/{id}/advance":
                        mine, t.pool = t.pool[: args.advance], t.pool[args.advance :]
                        source = advances(mine)
                    else:
                        source = counted(
                            healthz if request == "GET /healthz" else t.get, args.requests
                        )
                    phase = measure(
                        t.server,
                        store_tasks=t.n + t.run.api_tasks,
                        clients=clients,
                        request=request,
                        rep=rep,
                        source=source,
                        expect=200,
                        max_seconds=args.max_seconds,
                    )
                    t.run.phases.append(phase)
                    log(line(phase))
                    if request == "POST /tasks/{id}/advance":
                        # Let the worker finish what the advances queued before the next
                        # phase (an advance phase cut short leaves the rest WAITING_USER).
                        done = mine[: phase.requests]
                        t.run.drain_after_advance_s.append(wait_status(t.base, done, "COMPLETED"))


REQUESTS = ("GET /healthz", "GET /tasks/{id}", "POST /tasks/{id}/advance")


def line(p: Phase) -> str:
    err = f" ERRORS {p.errors}: {p.first_error}" if p.errors else ""
    return (
        f"N={p.store_tasks:,} c={p.clients} rep={p.rep} {p.request}: n={p.requests} "
        f"p50={p.p50_ms:.2f} ms p99={p.p99_ms:.2f} ms {p.per_s:.0f}/s{err}"
    )


# -- report --------------------------------------------------------------------------


@dataclass
class Row:
    seeded: int
    store_tasks: int
    clients: int
    request: str
    reps: int
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    p99_min_ms: float
    p99_max_ms: float
    max_ms: float
    per_s: float
    server_cpu_ms_per_req: float
    client_cpu_ms_per_req: float


def summarise(n: int, run: SizeRun) -> list[Row]:
    rows = []
    keys = dict.fromkeys((p.clients, p.request) for p in run.phases)
    for clients, request in keys:
        ps = [p for p in run.phases if p.clients == clients and p.request == request]
        med = statistics.median
        rows.append(
            Row(
                seeded=n,
                store_tasks=ps[0].store_tasks,
                clients=clients,
                request=request,
                reps=len(ps),
                requests=sum(p.requests for p in ps),
                errors=sum(p.errors for p in ps),
                p50_ms=med(p.p50_ms for p in ps),
                p99_ms=med(p.p99_ms for p in ps),
                p99_min_ms=min(p.p99_ms for p in ps),
                p99_max_ms=max(p.p99_ms for p in ps),
                max_ms=max(p.max_ms for p in ps),
                per_s=med(p.per_s for p in ps),
                server_cpu_ms_per_req=med(1000 * p.server_cpu_s / max(p.requests, 1) for p in ps),
                client_cpu_ms_per_req=med(1000 * p.client_cpu_s / max(p.requests, 1) for p in ps),
            )
        )
    return rows


def text_report(args: argparse.Namespace, runs: dict[int, SizeRun], rows: list[Row]) -> str:
    out = []
    out.append(
        "Segue HTTP latency: segue serve --workers 1 on SQLite (synchronous=FULL), "
        f"{HOST} only; httpx, one keep-alive connection per client thread, closed loop"
    )
    out.append(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}; {args.reps} repetition(s): "
        "figures are medians over them, [p99 min..max]"
    )
    out.append(
        f"per phase: {args.requests} GETs or {args.advance} advances, at most "
        f"{args.max_seconds:g} s; seeded tasks "
        + ("settled to WAITING_USER" if args.settle else "left queued (worker busy!)")
        + "; the sizes are served at once and measured in turn, phase by phase"
    )
    out.append("")
    for n, run in runs.items():
        s = run.seed
        out.append(
            f"N = {n:,} seeded: {s.seed_seconds:.1f} s to start ({n / s.seed_seconds:,.0f}/s), "
            f"{s.settle_seconds:.1f} s to settle, {s.statuses}, {s.db_bytes / 1e6:.0f} MB; "
            f"+{run.api_tasks:,} started through the API; "
            f"server ready in {run.server_start_s:.1f} s; a task view is {run.view_bytes:,} bytes; "
            f"in-process service.view(): p50 {s.read_p50_us:.0f} us, p99 {s.read_p99_us:.0f} us"
        )
    out.append("")
    head = (
        f"{'clients':>7}  {'request':<26} {'seeded':>8} {'in store':>8} {'n':>5} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'[p99 range]':>15} {'max ms':>7} {'req/s':>6} "
        f"{'srv CPU':>7} {'cli CPU':>7}"
    )
    out.append(head)
    out.append(f"{'ms/req':>{len(head) - 8}} {'ms/req':>7}")
    out.append("-" * len(head))
    order = sorted(rows, key=lambda r: (r.clients, REQUESTS.index(r.request), r.seeded))
    last: tuple[int, str] | None = None
    for r in order:
        if last is not None and last[0] != r.clients:
            out.append("")
        first = last != (r.clients, r.request)
        new_clients = last is None or last[0] != r.clients
        last = (r.clients, r.request)
        rng = f"[{r.p99_min_ms:.1f}..{r.p99_max_ms:.1f}]" if r.reps > 1 else ""
        errors = f"  ERRORS: {r.errors}" if r.errors else ""
        out.append(
            f"{r.clients if new_clients else '':>7}  {r.request if first else '':<26} "
            f"{r.seeded:>8,} {r.store_tasks:>8,} {r.requests:>5} "
            f"{r.p50_ms:>7.2f} {r.p99_ms:>7.2f} {rng:>15} {r.max_ms:>7.1f} {r.per_s:>6.0f} "
            f"{r.server_cpu_ms_per_req:>7.2f} {r.client_cpu_ms_per_req:>7.2f}{errors}"
        )
    out.append("")
    out += compare(rows)
    return "\n".join(out)


def compare(rows: list[Row]) -> list[str]:
    """The largest store's figures over the smallest's, per client count and request."""
    sizes = sorted({r.seeded for r in rows})
    if len(sizes) < 2:
        return []
    small, large = sizes[0], sizes[-1]
    by = {(r.seeded, r.clients, r.request): r for r in rows}
    out = [f"N = {large:,} over N = {small:,} (1.00 = no change):"]
    for (n, clients, request), r in by.items():
        if n != large or (small, clients, request) not in by:
            continue
        s = by[(small, clients, request)]
        out.append(
            f"  c={clients:<3} {request:<26} p50 x{r.p50_ms / s.p50_ms:.2f}  "
            f"p99 x{r.p99_ms / s.p99_ms:.2f}  req/s x{r.per_s / s.per_s:.2f}  "
            f"srv CPU/req x{r.server_cpu_ms_per_req / s.server_cpu_ms_per_req:.2f}"
        )
    return out


# -- main ----------------------------------------------------------------------------


def int_list(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",") if x.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int_list, default=[1000, 100_000], help="store sizes N")
    parser.add_argument("--clients", type=int_list, default=[1, 16, 64])
    parser.add_argument("--requests", type=int, default=1000, help="GETs per phase")
    parser.add_argument("--advance", type=int, default=256, help="advances per phase")
    parser.add_argument("--max-seconds", type=float, default=20.0, help="cap per phase")
    parser.add_argument("--reps", type=int, default=2, help="repetitions per store size")
    parser.add_argument("--seed-batch", type=int, default=1000, help="starts per transaction")
    parser.add_argument(
        "--no-settle",
        dest="settle",
        action="store_false",
        help="leave seeded tasks queued (the server's worker then works through them)",
    )
    parser.add_argument("--dir", type=Path, default=REPO_ROOT, help="where the temp database goes")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = parser.parse_args(argv)
    if args.advance < 1 or args.requests < 1 or args.reps < 1 or min(args.clients) < 1:
        parser.error("--advance, --requests, --reps and --clients must be positive")

    began = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="segue-http-bench-", dir=args.dir))
    targets: list[Target] = []
    try:
        # Seed every store first: no server (and so no worker) runs while seeding.
        for n in sorted(set(args.tasks)):
            targets.append(prepare(n, args, workdir))
        for target in targets:
            start_server(target, args, workdir)
        measure_all(targets, args)
    finally:
        for target in targets:
            if target.server is not None:
                target.server.stop()
                if target.server.proc.returncode not in (0, -signal.SIGTERM):
                    log(f"server exited with {target.server.proc.returncode}:")
                    log(target.server.logs())
        shutil.rmtree(workdir, ignore_errors=True)
    runs = {t.n: t.run for t in targets}
    rows = [row for n, run in runs.items() for row in summarise(n, run)]
    log(f"done in {time.perf_counter() - began:.0f} s")
    if args.json:
        report = {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "seconds": time.perf_counter() - began,
            "sizes": {
                str(n): {
                    "seed": asdict(run.seed),
                    "server_start_s": run.server_start_s,
                    "api_tasks": run.api_tasks,
                    "view_bytes": run.view_bytes,
                    "drain_after_advance_s": run.drain_after_advance_s,
                    "phases": [{**asdict(p), "per_s": p.per_s} for p in run.phases],
                }
                for n, run in runs.items()
            },
            "summary": [asdict(r) for r in rows],
        }
        print(json.dumps(report, indent=2))
    else:
        print(text_report(args, runs, rows))
    return 1 if any(r.errors for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
