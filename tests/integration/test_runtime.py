"""Leases, fencing, heartbeats, large artifacts and idempotency keys, on every backend."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time

import jsonpatch
import pytest

from segue import Segue
from segue.core.task import EventType
from segue.testing import FakeClock
from tests.support.handlers import counter
from tests.support.workers import run_workers

T = "tests.support.handlers:t"

TWO_STEPS = f"""
pipeline: two
version: 1
steps:
  - {{id: first, type: auto, depends_on: [], run: {T}, with: {{ops: [{{count: first}}]}}}}
  - {{id: second, type: auto, run: {T}, with: {{ops: [{{count: second}}, {{emit: {{v: 2}}}}]}}}}
"""


def test_a_late_completion_from_a_lost_worker_is_fenced_off(engine: Segue) -> None:
    """A worker whose lease expired cannot complete the step over the newer attempt."""
    clock = FakeClock()
    engine.service.clock = clock
    engine.register(TWO_STEPS)
    task = engine.start("two", run=False)["id"]
    (lost,) = engine.service.claim("worker-1", lease_s=5)
    clock.advance(6)
    assert engine.service.expire_leases() == 1
    (fresh,) = engine.service.claim("worker-2", lease_s=5)
    assert (fresh.step, fresh.claim.attempt) == ("first", 2)
    assert engine.service.complete(lost, {"from": "lost"}) is None
    assert engine.service.complete(fresh, {"from": "fresh"}) is not None
    assert engine.artifacts(task)["first"] == {"from": "fresh"}
    kinds = [(e.type, e.attempt) for e in engine.events(task) if e.step == "first"]
    assert (EventType.LEASE_EXPIRED, 1) in kinds
    assert (EventType.STEP_COMPLETED, 1) not in kinds
    assert (EventType.STEP_COMPLETED, 2) in kinds


def test_a_cancelled_task_discards_the_running_steps_result(engine: Segue) -> None:
    """B09 variant: a result reported after cancel is not recorded, nothing else runs."""
    engine.register(TWO_STEPS)
    task = engine.start("two", run=False)["id"]
    (job,) = engine.service.claim("w", lease_s=30)
    engine.service.cancel(task)
    assert engine.service.complete(job, {"late": True}) is None
    assert engine.get(task)["status"] == "CANCELLED"
    assert engine.artifacts(task) == {}
    assert engine.service.claim("w") == []


def test_heartbeats_keep_a_long_step_with_its_first_worker(tmp_path) -> None:
    """B06: a step longer than the lease is renewed, never handed to a second worker."""
    url = f"sqlite:///{tmp_path / 'hb.db'}"
    with Segue(url) as engine:
        engine.register(f"""
pipeline: long
version: 1
steps:
  - {{id: long, type: auto, depends_on: [], run: {T}, with: {{ops: [{{count: long}}, {{sleep: 1.6}}]}}}}
  - {{id: next, type: auto, run: {T}, with: {{ops: [{{count: next}}]}}}}
""")
        task = engine.start("long", run=False)["id"]
        run_workers(
            engine,
            lambda: engine.get(task)["status"] == "COMPLETED",
            timeout=10,
            lease_s=0.6,
            poll_s=0.05,
            batch=32,
        )
        assert engine.get(task)["status"] == "COMPLETED"
        assert (counter(task, "long"), counter(task, "next")) == (1, 1)
        types = {e.type for e in engine.events(task)}
        assert EventType.LEASE_EXPIRED not in types and EventType.STEP_FAILED not in types


def test_idempotency_key_is_stable_across_retries(engine: Segue, counters) -> None:
    """Every attempt of one step run gets the same idempotency key."""
    engine.register(f"""
pipeline: keys
version: 1
steps:
  - id: flaky
    type: auto
    depends_on: []
    run: {T}
    with: {{ops: [{{record_key: flaky}}, {{fail_first: 2}}]}}
    retry: {{max_attempts: 3, backoff: fixed, initial_delay: 0.01s}}
""")
    task = engine.start("keys")["id"]
    keys = (counters / f"{task}.flaky.keys").read_text().split()
    assert len(keys) == 3 and len(set(keys)) == 1
    assert task in keys[0]


def _big(size: int) -> str:
    return f"""
pipeline: big
version: 1
steps:
  - {{id: big, type: auto, depends_on: [], run: {T}, with: {{ops: [{{blob: {size}}}]}}}}
  - {{id: next, type: auto, run: {T}, with: {{ops: [{{count: next}}]}}}}
"""


def test_b23_a_large_output_is_kept_as_a_blob(engine: Segue) -> None:
    """B23: output over the inline limit goes to the blob store, addressed by sha256."""
    engine.service.inline_limit_bytes = 1024
    engine.register(_big(1024 + 1024))
    view = engine.start("big")
    assert view["status"] == "COMPLETED"
    (artifact,) = engine.service.artifacts(view["id"], "big")
    assert artifact.kind == "blob" and artifact.value is None
    data = engine.store.read_blob(artifact.sha256)
    assert hashlib.sha256(data).hexdigest() == artifact.sha256
    assert json.loads(data) == {"blob": "x" * 2048}
    assert len(json.dumps(engine.get(view["id"]))) < 4096
    assert counter(view["id"], "next") == 1


def test_the_same_bytes_stored_by_many_threads_at_once(engine: Segue) -> None:
    """Two uploads of one file, or two steps making the same large output, at the same
    moment: every writer gets the sha256, the blob is whole, no temporary file is left."""
    data = b"the same bytes " * 50_000
    barrier = threading.Barrier(8)
    digests: list[str] = []
    errors: list[BaseException] = []

    def put() -> None:
        barrier.wait()
        try:
            digests.append(engine.service.put_file(data))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=put) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert digests == [hashlib.sha256(data).hexdigest()] * 8
    assert engine.service.read_file(digests[0]) == data
    root = engine.store.blobs.root
    assert list((root / ".incoming").iterdir()) == []  # every write renamed into place
    blob = root / digests[0][:2] / digests[0][2:]
    assert blob.stat().st_mode & 0o044 == 0o044 & ~current_umask()  # as the umask says


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_a_write_a_killed_process_left_is_swept_at_the_next_open(tmp_path) -> None:
    incoming = tmp_path / "blobs" / ".incoming"
    incoming.mkdir(parents=True)
    (incoming / "old.1.2.abcd").write_bytes(b"half a blob")
    (incoming / "new.1.2.abcd").write_bytes(b"being written now")
    hour_ago = time.time() - 3700
    os.utime(incoming / "old.1.2.abcd", (hour_ago, hour_ago))
    with Segue(f"sqlite:///{tmp_path / 'w.db'}", blob_dir=tmp_path / "blobs"):
        assert [p.name for p in incoming.iterdir()] == ["new.1.2.abcd"]


def test_b23_an_output_over_the_maximum_fails_the_step_clearly(engine: Segue) -> None:
    """B23: output over the maximum fails the step at once with its size and the limit."""
    engine.service.max_artifact_bytes = 4096
    engine.register(_big(4096))
    view = engine.start("big")
    assert view["status"] == "FAILED"
    step = next(s for s in view["steps"] if s["id"] == "big")
    assert step["status"] == "FAILED"
    assert "over the limit of 4096 bytes" in step["error"]["message"]
    assert counter(view["id"], "next") == 0
    engine.service.retry(view["id"])
    assert engine.drive(view["id"])["status"] == "FAILED"


def test_a_handler_that_does_not_return_json_fails_permanently(engine: Segue) -> None:
    """Output that cannot be stored as JSON fails the step without retries."""
    engine = Segue("sqlite://", handlers={"x:bad": lambda ctx: {"s": {1, 2}}})
    engine.register("""
pipeline: bad_out
version: 1
steps:
  - {id: s, type: auto, depends_on: [], run: "x:bad", retry: {max_attempts: 3}}
""")
    view = engine.start("bad_out")
    assert view["status"] == "FAILED"
    assert "not JSON" in view["steps"][0]["error"]["message"]
    assert view["steps"][0]["attempt"] == 1


@pytest.mark.parametrize("permanent", [True, False])
def test_permanent_errors_are_not_retried(engine: Segue, permanent: bool) -> None:
    """segue.PermanentError fails the step at once; other errors use the retry budget."""
    op = "{permanent: nope}" if permanent else "{fail_first: 9}"
    engine.register(f"""
pipeline: perm
version: 1
steps:
  - id: s
    type: auto
    depends_on: []
    run: {T}
    with: {{ops: [{op}]}}
    retry: {{max_attempts: 3, backoff: fixed, initial_delay: 0.01s}}
""")
    view = engine.start("perm")
    assert view["status"] == "FAILED"
    assert view["steps"][0]["attempt"] == (1 if permanent else 3)


def test_driving_one_task_runs_only_its_steps(engine: Segue) -> None:
    """Segue.drive(task) claims that task's steps and leaves other tasks' queued work alone."""
    engine.register(TWO_STEPS)
    other = engine.start("two", run=False)["id"]
    mine = engine.start("two", run=False)["id"]
    assert engine.drive(mine)["status"] == "COMPLETED"
    assert engine.get(other)["status"] == "PENDING"
    assert counter(other, "first") == 0


def test_task_listeners_hear_only_the_tasks_each_commit_changed(engine: Segue) -> None:
    """on_task_change gets the ids a commit changed: a start, a report and a cancel each
    name their own task, never a task they did not touch (claims are not announced)."""
    engine.register(TWO_STEPS)
    heard: list[frozenset[str]] = []
    engine.service.on_task_change(heard.append)
    a = engine.start("two", run=False)["id"]
    b = engine.start("two", run=False)["id"]
    assert heard == [{a}, {b}]
    (job,) = engine.service.claim("w", task_id=a)
    engine.service.complete(job, {"done": True})
    assert heard[2:] == [{a}]
    engine.service.cancel(b)
    assert heard[-1] == {b}
    engine.service.off_task_change(heard.append)
    engine.start("two", run=False)
    assert len(heard) == 4


CONFIRM = f"""
pipeline: confirm
version: 1
steps:
  - {{id: draft, type: auto, depends_on: [], run: {T}, with: {{ops: [{{emit: {{title: a}}}}]}}}}
  - id: check
    type: wait_user
    prefill: artifacts.draft
    input_schema: {{type: object, required: [title], properties: {{title: {{type: string}}}}}}
"""


def test_an_answers_patch_is_worked_out_when_read(engine: Segue) -> None:
    """What the person changed is a JSON Patch from the prefill: stored as the prefill
    alone (no diff on the write path) and completed whenever the artifact is read."""
    engine.register(CONFIRM)
    task = engine.start("confirm")["id"]
    engine.advance(task, "check", {"title": "b"})
    (stored,) = engine.store.artifacts(task, "check")
    assert stored.meta == {"prefill": {"title": "a"}}
    (read,) = engine.service.artifacts(task, "check")
    assert read.meta == {
        "prefill": {"title": "a"},
        "patch": [{"op": "replace", "path": "/title", "value": "b"}],
    }


@pytest.mark.parametrize(
    "answer",
    [
        {"title": "a", "n": True, "flags": [False]},
        {"title": "a", "n": 1, "flags": [0]},
        {"title": "a", "n": True, "flags": [0]},
    ],
)
def test_a_boolean_for_a_number_is_a_change(engine: Segue, answer: dict) -> None:
    """true is not 1 in JSON (in Python it is): each answer equals the prefill by Python's
    ==, and the patch still turns the prefill into exactly what the person sent."""
    engine.register(CONFIRM.replace("{title: a}", "{title: a, n: 1, flags: [false]}"))
    task = engine.start("confirm")["id"]
    engine.advance(task, "check", answer)
    (read,) = engine.service.artifacts(task, "check")
    assert read.meta is not None
    patched = jsonpatch.apply_patch(read.meta["prefill"], read.meta["patch"])
    assert json.dumps(patched, sort_keys=True) == json.dumps(answer, sort_keys=True)
    assert read.meta["patch"] != []


CHAIN = """
pipeline: chain
version: 1
steps:
  - {id: a, type: auto, depends_on: [], run: segue.builtins:passthrough}
  - {id: b, type: auto, run: segue.builtins:passthrough}
  - {id: c, type: auto, run: segue.builtins:passthrough}
"""


def test_a_batch_of_claims_gets_each_task_its_own_upstream_outputs(engine: Segue) -> None:
    """Jobs claimed together (read in one query) carry their own task's outputs, blobs
    included, and only those of their step's ancestors."""
    from segue.service_core import Outcome

    engine.register(CHAIN)
    ids = [engine.start("chain", run=False)["id"] for _ in range(3)]
    service = engine.service
    jobs = service.claim("w", limit=10)
    assert sorted(j.claim.task_id for j in jobs) == sorted(ids)
    big = "x" * 200_000  # over the inline limit: a blob
    outputs = {task: {"task": task, "big": big if task == ids[1] else ""} for task in ids}
    outcomes = [Outcome(job=j, output=outputs[j.claim.task_id]) for j in jobs]
    _, second = service.report(outcomes, owner="w", claim=10)
    assert {j.claim.task_id: (j.step, j.artifacts) for j in second} == {
        task: ("b", {"a": outputs[task]}) for task in ids
    }
    _, third = service.report(
        [Outcome(job=j, output={"b": 1}) for j in second], owner="w", claim=10
    )
    assert {j.claim.task_id: j.artifacts for j in third} == {
        task: {"a": outputs[task], "b": {"b": 1}} for task in ids
    }
