"""Scale-out on PostgreSQL, in real subprocesses: 2 API nodes and 3 workers on one database.

Tasks are started and their wait steps answered through both nodes at random.
Afterwards every task has completed, each with the same events as every other
(one completion per step), and each event log replays to its stored state.
The fault tests SIGKILL workers mid-run, and restart the PostgreSQL server
mid-run: the nodes answer 503 with Retry-After while it is down (never 500),
the workers reconnect, and nothing a node acknowledged is lost.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from segue import Segue
from segue.core import replay
from segue.core.task import EventType
from tests.support.cluster import Cluster, Driver

pytestmark = pytest.mark.slow

STEPS = {"upload", "abstract", "directory_confirm", "directory_parse", "embed"}


@pytest.fixture
def cluster(pg_url: str, tmp_path: Path) -> Iterator[Cluster]:
    """2 API nodes and 3 workers (leases of 3 s, so killed workers' steps come back soon)."""
    deployment = Cluster(pg_url, tmp_path)
    try:
        deployment.start_api()
        deployment.start_api()
        for _ in range(3):
            deployment.start_worker()
        deployment.wait_ready()
        yield deployment
    finally:
        deployment.stop()


def check_outcome(url: str, folder: Path, tasks: list[str]) -> Counter[str]:
    """Every task completed once per step, with a log that replays to its state; returns the
    event counts all the tasks share."""
    shapes: Counter[tuple[tuple[str, int], ...]] = Counter()
    with Segue(url, blob_dir=folder / "check-blobs") as engine:
        for task in tasks:
            state = engine.service.get(task)
            assert state.status.value == "COMPLETED", task
            events = engine.events(task)
            assert [e.seq for e in events] == list(range(1, len(events) + 1))
            done = Counter(e.step for e in events if e.type is EventType.STEP_COMPLETED)
            answered = Counter(e.step for e in events if e.type is EventType.INPUT_SUBMITTED)
            assert set(done) | set(answered) == STEPS
            assert max([*done.values(), *answered.values()]) == 1  # nothing completed twice
            assert replay(events).to_json() == state.to_json()
            kinds = Counter(e.type.value for e in events if e.type is not EventType.REPORT_REJECTED)
            shapes[tuple(sorted(kinds.items()))] += 1
    return Counter(dict(shapes.most_common(1)[0][0])) if shapes else Counter()


def test_two_api_nodes_and_three_workers_complete_every_task(cluster: Cluster) -> None:
    """300 doc-shaped tasks through both nodes: all complete, with identical event counts."""
    driver = Driver(cluster.apis)
    try:
        driver.start(300)
        driver.finish()
    finally:
        driver.close()
    assert set(driver.statuses) <= {200, 201}, driver.statuses
    shapes: Counter[tuple[tuple[str, int], ...]] = Counter()
    with Segue(cluster.url, blob_dir=cluster.folder / "check-blobs") as engine:
        for task in driver.started:
            events = engine.events(task)
            shapes[tuple(sorted(Counter(e.type.value for e in events).items()))] += 1
    assert len(shapes) == 1, shapes  # every task has exactly the same events
    (shape,) = shapes
    assert dict(shape)["step_completed"] == 4 and dict(shape)["input_submitted"] == 1
    check_outcome(cluster.url, cluster.folder, driver.started)


def test_workers_killed_mid_run_lose_nothing(cluster: Cluster) -> None:
    """SIGKILL two of the three workers while tasks run, start new ones: every task completes,
    no step twice."""
    driver = Driver(cluster.apis, seed=11)
    try:
        driver.start(60)
        for index in (0, 1):
            time.sleep(0.3)
            cluster.kill_worker(index)
            cluster.start_worker()
        driver.finish()
    finally:
        driver.close()
    check_outcome(cluster.url, cluster.folder, driver.started)


OUTAGE_S = 3.0
"""How long the server stays down: longer than the service's own retries (about 1.5 s), so
clients see the outage; short, because the server is shared."""


def restart_postgres() -> None:
    """A restart with the server down for :data:`OUTAGE_S` in the middle."""
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[0]
    for action in ("stop", "start"):
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
            check=True,
            capture_output=True,
            timeout=120,
        )
        if action == "stop":
            time.sleep(OUTAGE_S)


def ensure_postgres_up() -> None:
    if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"], check=False).returncode != 0:
        version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[0]
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
            check=False,
            timeout=120,
        )


@pytest.mark.skipif(
    shutil.which("pg_ctlcluster") is None or not Path("/etc/postgresql").is_dir(),
    reason="needs a local PostgreSQL cluster this test may restart",
)
def test_a_postgres_restart_mid_run_is_503_then_everything_finishes(cluster: Cluster) -> None:
    """While the server restarts, reads and writes through both nodes get 503 with Retry-After
    (never 500); afterwards the workers go on and every acknowledged task finishes."""
    driver = Driver(cluster.apis, seed=5)
    probe = Driver(cluster.apis, seed=6)
    stop = threading.Event()

    def keep_reading() -> None:  # a client polling while the server is away
        while not stop.is_set():
            for client in probe.clients:
                response = client.get("/tasks?limit=5")
                with probe.lock:
                    probe.statuses[response.status_code] += 1
                    if response.status_code == 503:
                        probe.retry_after.add(response.headers.get("Retry-After", ""))
            time.sleep(0.02)

    reader = threading.Thread(target=keep_reading)
    try:
        driver.start(40)
        reader.start()
        restarter = threading.Thread(target=restart_postgres)
        restarter.start()
        driver.start(40)  # started while the server goes down and comes back
        restarter.join()
        driver.finish()
    finally:
        stop.set()
        if reader.is_alive():
            reader.join()
        ensure_postgres_up()
        driver.close()
        probe.close()
    statuses = driver.statuses + probe.statuses
    assert not [code for code in statuses if code >= 500 and code != 503], statuses
    assert statuses[503] >= 1, statuses  # the outage was seen …
    assert (driver.retry_after | probe.retry_after) == {"2"}  # … always with Retry-After
    assert len(driver.started) == 80
    check_outcome(cluster.url, cluster.folder, driver.started)
