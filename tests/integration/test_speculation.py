"""Speculative transactions on SQLite: work done outside the write lock, checked and replayed.

Each test forces speculation (``store.speculation = "always"``) or makes another
holder of the writer lock contend for it, then checks that the outcome is what
the same work under the lock gives, including when another writer changes what
a speculation read between the speculation and its replay.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from segue import Segue
from segue.core.task import EventType
from segue.errors import TaskFinished
from segue.runtime.worker import Worker
from segue.service_core import Idempotency
from segue.store import SqlStore

T = "tests.support.handlers:t"
PIPELINE = f"""
pipeline: spec_doc
version: 1
steps:
  - {{id: upload, type: auto, depends_on: [], run: {T}, with: {{ops: [{{emit: {{text: hi}}}}]}}}}
  - {{id: draft, type: auto, run: {T}, with: {{ops: [{{from_upstream: upload.text}}]}}}}
  - {{id: confirm, type: wait_user, prefill: "artifacts.draft", input_schema: {{type: object}}}}
  - {{id: split, type: auto, run: segue.builtins:passthrough}}
  - {{id: embed, type: auto, run: segue.builtins:passthrough}}
"""
LIMITED = f"""
pipeline: spec_limited
version: 1
steps:
  - {{id: only, type: auto, depends_on: [], concurrency: 1, run: {T}}}
"""


def open_engine(path: Path, speculation: str) -> Segue:
    engine = Segue(f"sqlite:///{path}")
    engine.register(PIPELINE)
    engine.register(LIMITED)
    store_of(engine).speculation = speculation
    return engine


def store_of(engine: Segue) -> SqlStore:
    assert isinstance(engine.store, SqlStore)
    return engine.store


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "spec.db"


@pytest.fixture
def engine(db: Path) -> Iterator[Segue]:
    with open_engine(db, "always") as engine:
        yield engine


@pytest.fixture
def other(db: Path, engine: Segue) -> Iterator[Segue]:
    """A second engine on the same file: another writer, with its own connections."""
    with open_engine(db, "never") as other:
        yield other


def between(engine: Segue, interfere: Callable[[], object]) -> None:
    """Run ``interfere`` once, after the next speculation and before its replay."""
    store = store_of(engine)
    speculate = store._speculate

    def patched(body: Callable[[Any], Any]) -> Any:
        store._speculate = speculate  # type: ignore[method-assign]
        outcome = speculate(body)
        interfere()
        return outcome

    store._speculate = patched  # type: ignore[method-assign]


def trail(engine: Segue, task_id: str) -> list[tuple[str, str | None, int | None]]:
    return [(e.type.value, e.step, e.attempt) for e in engine.events(task_id)]


def run_doc_task(engine: Segue) -> str:
    task = engine.start("spec_doc")
    assert task["status"] == "WAITING_USER"
    done = engine.advance(task["id"], "confirm", {"outline": ["a", "b"]})
    assert done["status"] == "COMPLETED"
    return str(task["id"])


def test_every_write_speculated_gives_the_same_task(tmp_path: Path) -> None:
    results = {}
    for mode in ("never", "always"):
        with open_engine(tmp_path / f"{mode}.db", mode) as engine:
            task_id = run_doc_task(engine)
            results[mode] = (trail(engine, task_id), engine.artifacts(task_id))
            counts = store_of(engine).speculations
            if mode == "always":
                assert counts["replayed"] >= 8  # start, claims, reports, the answer
                assert counts["conflicted"] == counts["abandoned"] == 0
            else:
                assert sum(counts.values()) == 0
    assert results["always"] == results["never"]
    # draft was claimed in the transaction that recorded upload: it read upload's output
    # from what that same speculation wrote
    assert results["always"][1]["draft"] == {"from_upload": "hi"}


def test_an_answer_to_a_task_cancelled_meanwhile_is_refused(engine: Segue, other: Segue) -> None:
    task_id = engine.start("spec_doc")["id"]
    between(engine, lambda: other.service.cancel(task_id, reason="changed my mind"))
    with pytest.raises(TaskFinished):
        engine.service.advance(task_id, "confirm", {"outline": []})
    assert store_of(engine).speculations["conflicted"] == 1
    assert engine.get(task_id)["status"] == "CANCELLED"
    assert "confirm" not in engine.artifacts(task_id)
    assert not any(e.type is EventType.INPUT_SUBMITTED for e in engine.events(task_id))


def test_a_report_whose_lease_was_taken_over_meanwhile_is_fenced(
    engine: Segue, other: Segue
) -> None:
    task_id = engine.start("spec_doc", run=False)["id"]
    (job,) = engine.service.claim("worker-a", lease_s=60)

    def take_over() -> None:
        other.store.release_leases("worker-a")
        assert other.service.expire_leases() == 1
        (retry,) = other.service.claim("worker-b")
        assert other.service.complete(retry, {"text": "by b"}) is not None

    between(engine, take_over)
    recorded, jobs = engine.service.report([job_outcome(job, {"text": "by a"})], owner="worker-a")
    assert recorded == [False]
    assert jobs == []
    assert store_of(engine).speculations["conflicted"] == 1
    assert engine.artifacts(task_id)["upload"] == {"text": "by b"}
    completions = [e for e in engine.events(task_id) if e.type is EventType.STEP_COMPLETED]
    assert [(e.step, e.attempt) for e in completions] == [("upload", 2)]
    assert any(e.type is EventType.REPORT_REJECTED for e in engine.events(task_id))


def job_outcome(job: Any, output: Any) -> Any:
    from segue.service_core import Outcome

    return Outcome(job=job, output=output)


def test_a_run_claimed_by_another_writer_meanwhile_is_not_claimed_twice(
    engine: Segue, other: Segue
) -> None:
    task_id = engine.start("spec_doc", run=False)["id"]
    taken: list[Any] = []
    between(engine, lambda: taken.extend(other.service.claim("worker-b")))
    assert engine.service.claim("worker-a") == []
    assert len(taken) == 1
    assert store_of(engine).speculations["conflicted"] == 1
    started = [e for e in engine.events(task_id) if e.type is EventType.STEP_STARTED]
    assert [(e.step, e.data.get("worker")) for e in started] == [("upload", "worker-b")]


def test_a_concurrency_limit_is_counted_under_the_lock(engine: Segue) -> None:
    task_id = engine.start("spec_limited", run=False)["id"]
    (job,) = engine.service.claim("worker-a")
    assert job.claim.task_id == task_id
    assert store_of(engine).speculations["abandoned"] == 1  # the count is not speculated


def test_a_repeated_idempotency_key_starts_one_task(engine: Segue, other: Segue) -> None:
    key = Idempotency(scope="start:spec_doc", key="k1", request_hash="h")
    first = engine.service.start("spec_doc", idempotency=key)
    again = engine.service.start("spec_doc", idempotency=key)
    assert again == first
    # another writer answers the same key between a speculation and its replay: the
    # replay sees the remembered response it did not read, and gives way
    key2 = Idempotency(scope="start:spec_doc", key="k2", request_hash="h")
    made: list[Any] = []
    between(engine, lambda: made.append(other.service.start("spec_doc", idempotency=key2)))
    assert engine.service.start("spec_doc", idempotency=key2) == made[0]
    assert store_of(engine).speculations["conflicted"] == 1
    assert len(engine.service.list_tasks(limit=10).tasks) == 2


def test_speculation_starts_when_another_process_holds_the_writer_lock(db: Path) -> None:
    with open_engine(db, "auto") as engine:
        run_doc_task(engine)
        assert sum(store_of(engine).speculations.values()) == 0  # alone: straight to the lock
        held, release = threading.Event(), threading.Event()

        def hold() -> None:  # another open file description: as another process would
            fd = os.open(f"{db}-writer.lock", os.O_RDWR | os.O_CREAT)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                held.set()
                release.wait(0.2)
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

        holder = threading.Thread(target=hold)
        holder.start()
        held.wait()
        engine.service.start("spec_doc")  # waits for the lock: now contended
        release.set()
        holder.join()
        run_doc_task(engine)
        assert store_of(engine).speculations["replayed"] >= 8


def test_concurrent_clients_and_a_worker_all_speculating(engine: Segue) -> None:
    """Clients start and answer tasks while a worker runs their steps, every write
    speculated and replayed through shared groups: each task ends COMPLETED, with its
    revision equal to its event count and each step run once."""
    service = engine.service
    stop = threading.Event()
    worker = Worker(service, batch=8, poll_s=0.01)
    runner = threading.Thread(target=worker.run_forever, args=(stop,))
    runner.start()
    finished: list[str] = []
    errors: list[BaseException] = []

    def client() -> None:
        try:
            mine = [str(service.start("spec_doc")["id"]) for _ in range(8)]
            while mine:
                for task_id in list(mine):
                    status = service.status(task_id).value
                    if status == "WAITING_USER":
                        service.advance(task_id, "confirm", {"outline": [task_id]})
                    elif status == "COMPLETED":
                        mine.remove(task_id)
                        finished.append(task_id)
                stop.wait(0.005)
        except BaseException as exc:
            errors.append(exc)

    clients = [threading.Thread(target=client) for _ in range(4)]
    try:
        for c in clients:
            c.start()
        for c in clients:
            c.join(120)
    finally:
        stop.set()
        runner.join()
        worker.close()
    assert errors == []
    assert len(finished) == 32
    for task_id in finished:
        view = engine.get(task_id)
        events = engine.events(task_id)
        assert view["revision"] == len(events)
        started = [e.step for e in events if e.type is EventType.STEP_STARTED]
        assert sorted(started) == ["draft", "embed", "split", "upload"]
        assert engine.artifacts(task_id)["confirm"] == {"outline": [task_id]}
    counts = store_of(engine).speculations
    assert counts["replayed"] > 32 * 2 and counts["abandoned"] == 0


def test_a_claim_that_finds_nothing_does_not_take_the_writer_lock(engine: Segue) -> None:
    """An idle worker's poll: its speculation wrote nothing, so it is its answer."""
    group = store_of(engine)._group
    commits = group.commits
    assert engine.service.claim("idle-worker") == []
    assert group.commits == commits
