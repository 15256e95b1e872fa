"""PostgreSQL-only behaviour: the durability guard, wake-ups across processes, row locks
under racing writers, and which driver errors are safe to retry.

Every test runs on a schema of its own (the ``pg_url`` fixture) and is skipped
without SEGUE_TEST_PG_URL.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from segue import Segue
from segue.core import replay
from segue.core.task import EventType
from segue.errors import MigrationRequired, StepNotWaiting, TaskFinished, UnsafeDurability
from segue.service import Idempotency
from segue.store import open_store
from segue.store.postgres import transient
from tests.support.workers import run_workers

WAITS = """
pipeline: waits
version: 1
steps:
  - {id: draft, type: auto, depends_on: [], run: "segue.builtins:passthrough"}
  - id: confirm
    type: wait_user
    input_schema: {type: object}
  - {id: publish, type: auto, run: "segue.builtins:passthrough"}
"""
ONE_STEP = """
pipeline: one_step
version: 1
steps:
  - {id: only, type: auto, depends_on: [], run: "segue.builtins:passthrough"}
"""


def with_options(url: str, *options: str) -> str:
    """The URL with more libpq ``-c`` options (beside its search_path)."""
    parsed = make_url(url)
    joined = " ".join([str(parsed.query.get("options", "")), *options]).strip()
    return parsed.update_query_dict({"options": joined}).render_as_string(hide_password=False)


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def two_nodes(pg_url: str, tmp_path: Path) -> Iterator[tuple[Segue, Segue]]:
    """Two engines on one database, each with its own pool: two API nodes."""
    with (
        Segue(pg_url, blob_dir=tmp_path / "blobs") as a,
        Segue(pg_url, blob_dir=tmp_path / "blobs") as b,
    ):
        a.register(WAITS)
        a.register(ONE_STEP)
        yield a, b


def race(*calls: Callable[[], object]) -> list[object]:
    """Run the calls at the same moment in threads; each result or the error it raised."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_synchronous_commit_off_is_refused_unless_allowed(pg_url: str, tmp_path: Path) -> None:
    """A server that acknowledges commits before they are on disk is refused, in one sentence;
    --allow-unsafe opens it and keeps the reason."""
    unsafe = with_options(pg_url, "-csynchronous_commit=off")
    with pytest.raises(UnsafeDurability, match="synchronous_commit is off"):
        open_store(unsafe, blob_dir=tmp_path)
    store = open_store(unsafe, blob_dir=tmp_path, allow_unsafe=True)
    try:
        assert any("synchronous_commit" in p for p in store.unsafe)
    finally:
        store.close()
    store = open_store(pg_url, blob_dir=tmp_path)
    try:
        assert store.unsafe == []
    finally:
        store.close()


def test_the_short_postgres_scheme_opens_the_same_database(pg_url: str, tmp_path: Path) -> None:
    """postgres://, as libpq and hosting providers write it, is postgresql://."""
    short = "postgres" + pg_url[pg_url.index("://") :]
    store = open_store(short, blob_dir=tmp_path)
    try:
        assert store.engine.dialect.name == "postgresql" and store.unsafe == []
    finally:
        store.close()


def test_a_schema_from_a_newer_segue_is_refused(pg_url: str, tmp_path: Path) -> None:
    """An unknown revision is MigrationRequired, and the database is not touched."""
    open_store(pg_url, blob_dir=tmp_path).close()
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(MigrationRequired, match="newer"):
        open_store(pg_url, blob_dir=tmp_path)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "9999"
    engine.dispose()


def test_a_notification_wakes_a_worker_of_another_node(two_nodes: tuple[Segue, Segue]) -> None:
    """A task started on one node is run by an idle worker of another at once, not at its
    next poll (a minute away here): LISTEN/NOTIFY carried the wake-up."""
    a, b = two_nodes
    started: list[str] = []

    def start_on_b_while_idle() -> None:
        time.sleep(0.5)  # the worker is idle, in its minute-long wait
        started.append(b.start("one_step", run=False)["id"])

    run_workers(
        a,
        lambda: b.get(started[0])["status"] == "COMPLETED",
        count=1,
        poll_s=60,
        timeout=30,
        then=start_on_b_while_idle,
        why="the worker was not woken",
    )


def test_a_lost_notification_costs_one_poll(two_nodes: tuple[Segue, Segue]) -> None:
    """With no notifications at all, a worker still finds the work by polling."""
    a, b = two_nodes
    a.store.dialect = dataclasses.replace(a.store.dialect, listen=None)
    started: list[str] = []
    run_workers(
        a,
        lambda: b.get(started[0])["status"] == "COMPLETED",
        count=1,
        poll_s=0.2,
        timeout=30,
        then=lambda: started.append(b.start("one_step", run=False)["id"]),
        why="polling did not find the work",
    )


def test_two_nodes_answering_the_same_wait_step_end_in_one_outcome(
    two_nodes: tuple[Segue, Segue],
) -> None:
    """Racing submissions through two nodes: one is recorded, the other is StepNotWaiting."""
    a, b = two_nodes
    for _ in range(8):
        task = a.start("waits")["id"]
        results = race(
            lambda t=task: a.advance(t, "confirm", {"by": "a"}, run=False),
            lambda t=task: b.advance(t, "confirm", {"by": "b"}, run=False),
        )
        errors = [r for r in results if isinstance(r, Exception)]
        assert len(errors) == 1 and isinstance(errors[0], StepNotWaiting), results
        events = a.events(task)
        assert [e.type for e in events].count(EventType.INPUT_SUBMITTED) == 1
        assert replay(events).to_json() == a.service.get(task).to_json()


def test_one_idempotency_key_racing_through_two_nodes_gets_the_first_outcome_twice(
    two_nodes: tuple[Segue, Segue],
) -> None:
    """A client resending a request with the same Idempotency-Key to another node while the
    first is still running gets the first outcome, not a 503 about a duplicate key (start) or
    a 409 about its own answer (advance); one task, one input."""
    a, b = two_nodes
    for i in range(8):
        start = Idempotency("alice:start", f"start-{i}", "same")
        started = race(
            lambda k=start: a.service.start("waits", {}, idempotency=k),
            lambda k=start: b.service.start("waits", {}, idempotency=k),
        )
        assert not [r for r in started if isinstance(r, Exception)], started
        ids = {r["id"] for r in started}  # type: ignore[index]
        assert len(ids) == 1
        (task,) = ids
        a.drive(task)
        answer = Idempotency("alice:advance", f"advance-{i}", "same")
        answered = race(
            lambda t=task, k=answer: a.service.advance(t, "confirm", {}, idempotency=k),
            lambda t=task, k=answer: b.service.advance(t, "confirm", {}, idempotency=k),
        )
        assert answered[0] == answered[1], answered
        events = [e.type for e in a.events(task)]
        assert events.count(EventType.INPUT_SUBMITTED) == 1


def test_a_completion_racing_a_cancel_ends_in_one_outcome(
    two_nodes: tuple[Segue, Segue],
) -> None:
    """A worker completing the last step while an operator cancels on another node: either the
    task completed (and the cancel was refused) or it was cancelled (and the late completion
    rejected), never both, and the log replays to the stored state."""
    a, b = two_nodes
    seen = set()
    for _ in range(10):
        task = a.start("one_step", run=False)["id"]
        (job,) = a.service.claim("racer", task_id=task)
        completed, cancelled = race(
            lambda j=job: a.service.complete(j, {"ok": True}),
            lambda t=task: b.service.cancel(t, reason="race"),
        )
        state = a.service.get(task)
        types = [e.type for e in a.events(task)]
        if state.status.value == "COMPLETED":
            assert isinstance(cancelled, TaskFinished)
            assert EventType.STEP_COMPLETED in types
        else:
            assert state.status.value == "CANCELLED"
            assert completed is None  # the late completion was rejected
            assert EventType.STEP_COMPLETED not in types
        seen.add(state.status.value)
        assert replay(a.events(task)).to_json() == state.to_json()
    assert seen <= {"COMPLETED", "CANCELLED"}


def test_retry_safety_of_real_driver_errors(pg_url: str) -> None:
    """A deadlock is safe to run again even at commit; a dropped connection only before it;
    a constraint violation never."""
    url = libpq(pg_url)
    with psycopg.connect(url, autocommit=True) as setup:
        setup.execute("CREATE TABLE pair (id int PRIMARY KEY)")
        setup.execute("INSERT INTO pair VALUES (1), (2)")
    first, second = psycopg.connect(url), psycopg.connect(url)
    try:
        first.execute("UPDATE pair SET id = id WHERE id = 1")
        second.execute("UPDATE pair SET id = id WHERE id = 2")
        results = race(
            lambda: first.execute("UPDATE pair SET id = id WHERE id = 2"),
            lambda: second.execute("UPDATE pair SET id = id WHERE id = 1"),
        )
        (deadlock,) = [r for r in results if isinstance(r, psycopg.Error)]
        assert isinstance(deadlock, psycopg.errors.DeadlockDetected)
        assert transient(deadlock, committing=True)
    finally:
        first.close()
        second.close()
    victim = psycopg.connect(url)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (victim.info.backend_pid,))
    with pytest.raises(psycopg.OperationalError) as dropped:
        victim.execute("SELECT 1")
    victim.close()
    assert transient(dropped.value, committing=False)
    assert not transient(dropped.value, committing=True)
    with psycopg.connect(url) as conn, pytest.raises(psycopg.IntegrityError) as duplicate:
        conn.execute("INSERT INTO pair VALUES (1)")
    assert not transient(duplicate.value, committing=False)


def test_connections_dropped_by_the_server_are_replaced(pg_url: str, tmp_path: Path) -> None:
    """After the server cut every connection of the pool, reads and writes go on."""
    name = f"segue_test_{secrets.token_hex(4)}"
    url = make_url(pg_url).update_query_dict({"application_name": name})
    with Segue(url.render_as_string(hide_password=False), blob_dir=tmp_path) as engine:
        engine.register(WAITS)
        task = engine.start("waits")["id"]
        with psycopg.connect(libpq(pg_url), autocommit=True) as admin:
            cut = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (name,),
            ).fetchone()
        assert cut is not None and cut[0] >= 1
        assert engine.get(task)["status"] == "WAITING_USER"
        assert engine.advance(task, "confirm", {})["status"] == "COMPLETED"


def test_the_pool_size_comes_from_the_settings(pg_url: str, tmp_path: Path) -> None:
    """SEGUE_DB_POOL_SIZE sizes each process's pool; a burst may open half as many again."""
    from segue.settings import Settings

    settings = Settings.from_env(
        {"SEGUE_DB_POOL_SIZE": "3"}, database_url=pg_url, blob_dir=str(tmp_path)
    )
    with Segue.from_settings(settings) as engine:
        pool = engine.store.engine.pool  # type: ignore[attr-defined]
        assert pool.size() == 3
        assert pool._max_overflow == 1


def test_readyz_after_the_server_dropped_the_pool_says_ready(pg_url: str, tmp_path: Path) -> None:
    """A dead pooled connection is not a database that does not answer: the probe of a load
    balancer stays 200 (it took a node out of rotation, with SQL text in its detail)."""
    import httpx

    from tests.api.conftest import serve

    name = f"segue_test_{secrets.token_hex(4)}"
    url = make_url(pg_url).update_query_dict({"application_name": name})
    with (
        Segue(url.render_as_string(hide_password=False), blob_dir=tmp_path) as engine,
        serve(engine, workers=0) as base,
        httpx.Client(base_url=base) as client,
    ):
        assert client.get("/readyz").status_code == 200
        with psycopg.connect(libpq(pg_url), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (name,),
            )
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
