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
3. **Serve**: start ``segue serve --workers 1`` as a subprocess on a free
   loopback port and wait for ``/healthz``. Through the API, start the tasks
   that the advance phases will answer, and wait until each is WAITING_USER.
4. **Measure**, for each repetition and each client count (1, 16, 64), three
   phases, each client a thread with its own ``httpx.Client`` (one keep-alive
   connection, opened before the clock starts):

   - ``GET /healthz``: the floor (uvicorn + FastAPI + the thread-pool hop, no store);
   - ``GET /tasks/{id}`` on random seeded ids;
   - ``POST /tasks/{id}/advance`` on distinct WAITING_USER tasks, each once.
     The server's worker then runs the steps after it (as in production);
     the next phase starts once every advanced task is COMPLETED.

   A phase ends after ``--requests`` requests (``--advance`` for advances)
   or ``--max-seconds``, whichever comes first. Latency is
   ``time.perf_counter()`` around each request, on the client.

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
    finally:
        engine.close()
    statuses = status_counts(db_path)
    if settle and statuses != {"WAITING_USER": n}:
        raise RuntimeError(f"after settling, expected {n} WAITING_USER tasks, got {statuses}")
    db_bytes = sum(p.stat().st_size for p in db_path.parent.glob(db_path.name + "*"))
    return ids, SeedInfo(n, seeded, settled, statuses, db_bytes)


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


def run_clients(
    base: str, clients: int, source: Source, expect: int, max_seconds: float
) -> tuple[list[float], int, float, str | None]:
    """Run ``clients`` closed-loop client threads; (latencies, errors, wall seconds, an error)."""
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
    began = time.perf_counter()
    clock["deadline"] = began + max_seconds
    barrier.wait()
    for thread in threads:
        thread.join()
    merged = sorted(x for part in latencies for x in part)
    return merged, sum(errors), max(ends) - began, first_error[0] if first_error else None


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
    cpu0, client0 = server.cpu_seconds(), time.process_time()
    latencies, errors, seconds, first_error = run_clients(
        server.base, clients, source, expect, max_seconds
    )
    cpu1, client1 = server.cpu_seconds(), time.process_time()
    return Phase(
        store_tasks=store_tasks,
        clients=clients,
        request=request,
        rep=rep,
        requests=len(latencies),
        errors=errors,
        seconds=seconds,
        server_cpu_s=cpu1 - cpu0,
        client_cpu_s=client1 - client0,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        max_ms=(latencies[-1] if latencies else math.nan) * 1000,
        first_error=first_error,
    )


def counted(make: Callable[[random.Random], Request], budget: int) -> Source:
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
    server_start_s: float
    api_tasks: int
    phases: list[Phase] = field(default_factory=list)
    drain_after_advance_s: list[float] = field(default_factory=list)


def run_size(n: int, args: argparse.Namespace, workdir: Path) -> SizeRun:
    db_path = workdir / f"store-{n}.db"
    url = f"sqlite:///{db_path}"
    log(f"N={n:,}: seeding ({args.seed_batch} starts per transaction)")
    ids, info = seed(url, db_path, n, args.seed_batch, args.settle)
    log(
        f"N={n:,}: seeded in {info.seed_seconds:.1f} s, settled in {info.settle_seconds:.1f} s, "
        f"{info.statuses}, {info.db_bytes / 1e6:.0f} MB"
    )
    pipeline_file = workdir / "bench_doc.yaml"
    pipeline_file.write_text(PIPELINE_YAML)
    server = Server(url, pipeline_file, workdir / f"server-{n}.log")
    try:
        ready = server.wait_ready()
        need = args.advance * len(args.clients) * args.reps + WARMUP_ADVANCES
        log(f"N={n:,}: server up in {ready:.1f} s; starting {need} tasks through the API")
        pool = create_waiting(server.base, need)
        run = SizeRun(seed=info, server_start_s=ready, api_tasks=need)
        store_tasks = n + need

        def get(rng: random.Random) -> Request:
            return ("GET", f"/tasks/{rng.choice(ids)}", None)

        def healthz(_rng: random.Random) -> Request:
            return ("GET", "/healthz", None)

        def advances(task_ids: Sequence[str]) -> Source:
            return from_list([("POST", f"/tasks/{t}/advance", ADVANCE_BODY) for t in task_ids])

        # Warm-up: not recorded.
        for source in (counted(healthz, WARMUP_REQUESTS), counted(get, WARMUP_REQUESTS)):
            run_clients(server.base, 4, source, 200, args.max_seconds)
        warm, pool = pool[:WARMUP_ADVANCES], pool[WARMUP_ADVANCES:]
        run_clients(server.base, 4, advances(warm), 200, args.max_seconds)
        wait_status(server.base, warm, "COMPLETED")

        for rep in range(args.reps):
            for clients in args.clients:
                common = dict(store_tasks=store_tasks, clients=clients, rep=rep, expect=200)
                for request, source in (
                    ("GET /healthz", counted(healthz, args.requests)),
                    ("GET /tasks/{id}", counted(get, args.requests)),
                ):
                    phase = measure(
                        server,
                        request=request,
                        source=source,
                        max_seconds=args.max_seconds,
                        **common,  # type: ignore[arg-type]
                    )
                    run.phases.append(phase)
                    log(line(phase))
                mine, pool = pool[: args.advance], pool[args.advance :]
                phase = measure(
                    server,
                    request="POST /tasks/{id}/advance",
                    source=advances(mine),
                    max_seconds=args.max_seconds,
                    **common,  # type: ignore[arg-type]
                )
                run.phases.append(phase)
                log(line(phase))
                # Only the advanced tasks are waited for (an advance cut short by
                # --max-seconds leaves the rest WAITING_USER).
                done = mine[: phase.requests]
                run.drain_after_advance_s.append(wait_status(server.base, done, "COMPLETED"))
        return run
    finally:
        server.stop()
        if server.proc.returncode not in (0, -signal.SIGTERM):
            log(f"server exited with {server.proc.returncode}:\n{server.logs()}")


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
    )
    out.append("")
    for n, run in runs.items():
        s = run.seed
        out.append(
            f"N = {n:,} seeded: {s.seed_seconds:.1f} s to start ({n / s.seed_seconds:,.0f}/s), "
            f"{s.settle_seconds:.1f} s to settle, {s.statuses}, {s.db_bytes / 1e6:.0f} MB; "
            f"+{run.api_tasks:,} started through the API; "
            f"server ready in {run.server_start_s:.1f} s"
        )
    out.append("")
    head = (
        f"{'seeded':>8} {'in store':>8} {'clients':>7}  {'request':<26} {'n':>5} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'[p99 range]':>15} {'max ms':>7} {'req/s':>6} "
        f"{'srv CPU':>7} {'cli CPU':>7}"
    )
    out.append(head)
    out.append(
        f"{'':>8} {'':>8} {'':>7}  {'':<26} {'':>5} {'':>7} {'':>7} {'':>15} {'':>7} "
        f"{'':>6} {'ms/req':>7} {'ms/req':>7}"
    )
    out.append("-" * len(head))
    last: tuple[int, int] | None = None
    for r in rows:
        if last is not None and last[0] != r.seeded:
            out.append("")
        first = last != (r.seeded, r.clients)
        last = (r.seeded, r.clients)
        rng = f"[{r.p99_min_ms:.1f}..{r.p99_max_ms:.1f}]" if r.reps > 1 else ""
        errors = f"  ERRORS: {r.errors}" if r.errors else ""
        out.append(
            f"{f'{r.seeded:,}' if first else '':>8} {f'{r.store_tasks:,}' if first else '':>8} "
            f"{r.clients if first else '':>7}  {r.request:<26} {r.requests:>5} "
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
    parser.add_argument("--requests", type=int, default=2000, help="GETs per phase")
    parser.add_argument("--advance", type=int, default=384, help="advances per phase")
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
    runs: dict[int, SizeRun] = {}
    try:
        for n in sorted(args.tasks):
            runs[n] = run_size(n, args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
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
