"""segue.client against a real server: every endpoint, every typed error, auth and SSE."""

from __future__ import annotations

import asyncio
import pickle
import threading
import time

import pytest

from segue.api.body import Limits
from segue.client import (
    AsyncClient,
    BadRequest,
    Client,
    ClientError,
    Conflict,
    ConnectionFailed,
    Forbidden,
    InvalidInput,
    NotFound,
    NotWaiting,
    PreconditionFailed,
    ServerError,
    TooLarge,
    Unauthorized,
)
from segue.errors import StoreUnavailable
from tests.api.conftest import DOC, free_port, serve

SLOW = """
pipeline: slow
version: 1
steps:
  - {id: go, type: wait_user, depends_on: [], input_schema: {type: object}}
  - {id: nap, type: auto, run: segue.builtins:sleep, with: {seconds: 0.1}}
"""
ANSWER = {"directory": [{"title": "Introduction", "level": 1}, {"title": "Body", "level": 2}]}


@pytest.fixture
def url(engine):
    """The threaded server (the engine is shared, so tests can break it on purpose)."""
    with serve(engine) as found:
        yield found


@pytest.fixture
def segue(url: str):
    with Client(url) as c:
        yield c


def waiting(client: Client, task_id: str, wanted: str = "WAITING_USER") -> dict:
    deadline = time.monotonic() + 15
    while (view := client.get(task_id))["status"] != wanted:
        assert time.monotonic() < deadline, f"task is {view['status']}, not {wanted}"
        time.sleep(0.02)
    return view


def test_the_happy_path_returns_plain_json(segue) -> None:
    """Start, read, advance, then the events, artifacts and one artifact, as dicts and lists."""
    assert [(p["pipeline"], p["version"]) for p in segue.pipelines()] == [("doc", 1)]
    started = segue.start("doc", {"auto_confirm": False})
    view = waiting(segue, started["id"])
    assert view["required_input"]["step"] == "directory_confirm"
    assert view["required_input"]["can_answer"] is True
    after = segue.advance(
        view["id"], "directory_confirm", ANSWER, idempotency_key="k1", if_revision=view["revision"]
    )
    assert after["revision"] > view["revision"]
    done = waiting(segue, view["id"], "COMPLETED")
    events = segue.events(done["id"])
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "task_completed"
    assert [e["seq"] for e in segue.events(done["id"], after=len(events) - 2)] == [
        len(events) - 1,
        len(events),
    ]
    artifacts = {a["step"]: a for a in segue.artifacts(done["id"])}
    assert artifacts["directory_confirm"]["value"] == ANSWER
    assert len(segue.artifacts(done["id"], all_attempts=True)) == len(artifacts)
    assert segue.artifact(done["id"], "directory_confirm") == ANSWER
    assert segue.artifact(done["id"], "directory_confirm", attempt=1) == ANSWER


def test_events_follow_every_page(segue, monkeypatch) -> None:
    """events() asks again with next_after until the log ends."""
    monkeypatch.setattr("segue.client.EVENTS_PAGE", 2)
    view = waiting(segue, segue.start("doc")["id"])
    events = segue.events(view["id"])
    assert len(events) > 2
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_listing_pages_with_the_cursor(segue) -> None:
    """list_tasks returns {tasks, next_cursor}; the cursor gives the next page."""
    ids = [segue.start("doc")["id"] for _ in range(3)]
    first = segue.list_tasks(limit=2)
    assert [t["id"] for t in first["tasks"]] == ids[::-1][:2]
    second = segue.list_tasks(limit=2, cursor=first["next_cursor"])
    assert [t["id"] for t in second["tasks"]] == ids[:1]
    assert second["next_cursor"] is None
    assert segue.list_tasks(pipeline="other")["tasks"] == []


def test_an_idempotency_key_replays_the_start(segue) -> None:
    """The same key and body start one task, not two."""
    first = segue.start("doc", idempotency_key="once")
    again = segue.start("doc", idempotency_key="once")
    assert first["id"] == again["id"]
    assert len(segue.list_tasks()["tasks"]) == 1


def test_registering_new_same_changed_and_invalid_definitions(segue) -> None:
    """created True, then False; a changed version is a Conflict; problems carry their paths."""
    text = DOC.replace("pipeline: doc", "pipeline: doc2")
    assert segue.register(text)["created"] is True
    assert segue.register(text)["created"] is False
    with pytest.raises(Conflict) as changed:
        segue.register(text.replace("Confirm the outline", "Confirm it"))
    assert (changed.value.status, changed.value.code) == (409, "version_conflict")
    assert not isinstance(changed.value, NotWaiting)
    with pytest.raises(InvalidInput) as invalid:
        segue.register('{"pipeline": "x", "version": 1, "steps": []}', "application/json")
    assert invalid.value.code == "pipeline_invalid"
    assert invalid.value.violations


def test_each_status_raises_its_typed_error(segue) -> None:
    """404, 409, 422 (with pointers), 412 and 400 each have a class; all are ClientErrors."""
    view = waiting(segue, segue.start("doc")["id"])
    with pytest.raises(NotFound) as missing:
        segue.get("nope")
    assert missing.value.status == 404 and missing.value.code == "task_not_found"
    assert missing.value.detail == "No task has id 'nope'." == str(missing.value)
    assert missing.value.problem["type"] == "urn:segue:error:task_not_found"
    with pytest.raises(NotFound):
        segue.start("nope")
    with pytest.raises(NotFound):
        segue.artifact(view["id"], "embed")
    with pytest.raises(NotWaiting) as stale:
        segue.advance(view["id"], "upload", {})
    assert stale.value.code == "step_not_waiting"
    assert stale.value.task is not None and stale.value.task["id"] == view["id"]
    bad = {"directory": [{"title": "", "level": 9}]}
    with pytest.raises(InvalidInput) as invalid:
        segue.advance(view["id"], "directory_confirm", bad)
    assert invalid.value.code == "input_invalid"
    assert sorted(p for p, _ in invalid.value.violations) == [
        "/directory/0/level",
        "/directory/0/title",
    ]
    with pytest.raises(InvalidInput) as config:
        segue.start("doc", {"auto_confirm": "x"})
    assert config.value.violations[0][0] == "/auto_confirm"
    with pytest.raises(PreconditionFailed):
        segue.advance(view["id"], "directory_confirm", ANSWER, if_revision=1)
    with pytest.raises(BadRequest):
        segue.list_tasks(cursor="%%%")
    with pytest.raises(Conflict) as retry:
        segue.retry(view["id"])
    assert retry.value.code == "invalid_command"
    cancelled = segue.cancel(view["id"], reason="testing")
    assert cancelled["status"] == "CANCELLED"
    with pytest.raises(NotWaiting) as finished:
        segue.advance(view["id"], "directory_confirm", ANSWER)
    assert finished.value.code == "task_finished"
    assert all(
        issubclass(cls, ClientError)
        for cls in (NotFound, NotWaiting, InvalidInput, PreconditionFailed, BadRequest)
    )
    assert segue.get(view["id"])["status"] == "CANCELLED"


def test_an_oversized_body_is_too_large(engine) -> None:
    """413 is TooLarge."""
    with serve(engine, limits=Limits(max_body_bytes=2048)) as url, Client(url) as segue:
        view = waiting(segue, segue.start("doc")["id"])
        big = {"directory": [{"title": "x" * 5000, "level": 1}]}
        with pytest.raises(TooLarge) as large:
            segue.advance(view["id"], "directory_confirm", big)
        assert large.value.status == 413 and "2048 bytes" in large.value.detail


def test_a_server_failure_is_a_server_error(segue, engine, monkeypatch) -> None:
    """5xx is ServerError, with the server's sentence (here: its database is down)."""

    def down(**_: object) -> None:
        raise StoreUnavailable("The database cannot be reached; check the database URL.")

    monkeypatch.setattr(engine.service, "list_tasks", down)
    with pytest.raises(ServerError) as failed:
        segue.list_tasks()
    assert (failed.value.status, failed.value.code) == (503, "store_unavailable")
    assert failed.value.detail == "The database cannot be reached; check the database URL."


def test_tokens_go_in_the_authorization_header(authed) -> None:
    """No token or an unknown one is Unauthorized; a viewer may read but not start."""
    url = str(authed(None).base_url).rstrip("/")
    with Client(url) as anonymous, pytest.raises(Unauthorized) as no_token:
        anonymous.list_tasks()
    assert no_token.value.status == 401
    with Client(url, token="wrong") as wrong, pytest.raises(Unauthorized):
        wrong.list_tasks()
    with Client(url, token="operator-secret") as operator:
        task = operator.start("doc")["id"]
        with pytest.raises(Forbidden) as forbidden:
            operator.cancel(task)
        assert forbidden.value.problem["required_role"] == "admin"
    with Client(url, token="viewer-secret") as viewer:
        assert viewer.get(task)["allowed_actions"] == []
        with pytest.raises(Forbidden):
            viewer.start("doc")
    with Client(url, token="other-secret") as other, pytest.raises(NotFound):
        other.get(task)
    with Client(url, token="admin-secret") as admin:
        assert admin.cancel(task)["status"] == "CANCELLED"


def test_an_unreachable_server_is_connection_failed() -> None:
    """Transport errors become ConnectionFailed with a plain sentence; so does a bad URL."""
    url = f"http://127.0.0.1:{free_port()}"
    with Client(url, timeout=2) as segue, pytest.raises(ConnectionFailed) as down:
        segue.get("x")
    assert str(down.value).startswith(f"cannot reach the Segue server at {url}: ")
    assert down.value.status is None and isinstance(down.value.__cause__, Exception)
    with pytest.raises(ConnectionFailed, match="must start with http"):
        Client("localhost:8000")


def test_errors_survive_pickling(segue) -> None:
    """A ClientError keeps its class, status, code and problem through pickle."""
    with pytest.raises(NotFound) as missing:
        segue.get("nope")
    copy = pickle.loads(pickle.dumps(missing.value))
    assert type(copy) is NotFound
    assert (copy.status, copy.code, copy.detail) == (404, "task_not_found", missing.value.detail)
    assert copy.problem == missing.value.problem


def test_the_stream_yields_events_live_and_resumes(segue, url) -> None:
    """stream() yields each event dict as it happens, in order, and resumes after an id."""
    view = waiting(segue, segue.start("doc")["id"])
    stream = segue.stream(view["id"])
    seen = [next(stream)]
    assert seen[0]["seq"] == 1 and seen[0]["type"] == "task_created"

    def answer() -> None:
        with Client(url) as other:
            other.advance(view["id"], "directory_confirm", ANSWER)

    thread = threading.Thread(target=answer)
    thread.start()
    seen += list(stream)
    thread.join()
    assert [e["seq"] for e in seen] == list(range(1, len(seen) + 1))
    assert any(e["type"] == "input_submitted" for e in seen)
    total = len(waiting(segue, view["id"], "COMPLETED") and segue.events(view["id"]))
    resumed = list(segue.stream(view["id"], last_event_id=total - 1))
    assert [(e["seq"], e["type"]) for e in resumed] == [(total, "task_completed")]
    with pytest.raises(NotFound):
        next(segue.stream("nope"))


def test_a_live_stream_ends_with_the_last_event(segue, engine, monkeypatch) -> None:
    """A stream opened before the task finishes still delivers task_completed."""
    engine.register(SLOW)
    status = engine.service.status

    def slow_status(task_id: str):
        time.sleep(1.0)  # the task completes between the stream's events read and this one
        return status(task_id)

    view = waiting(segue, segue.start("slow")["id"])
    monkeypatch.setattr(engine.service, "status", slow_status)
    stream = segue.stream(view["id"])
    assert next(stream)["seq"] == 1
    segue.advance(view["id"], "go", {})
    seen = list(stream)
    assert seen[-1]["type"] == "task_completed"


def test_a_stream_left_early_closes_its_connection(segue) -> None:
    """Closing the iterator mid-stream ends the request; the client stays usable."""
    view = waiting(segue, segue.start("doc")["id"])
    stream = segue.stream(view["id"])
    assert next(stream)["seq"] == 1
    stream.close()
    assert segue.get(view["id"])["status"] == "WAITING_USER"


def test_the_async_client_mirrors_the_sync_one(url) -> None:
    """AsyncClient: start, advance, stream to the end, events, artifacts and typed errors."""

    async def scenario() -> None:
        async with AsyncClient(url) as segue:
            task = (await segue.start("doc"))["id"]
            while (view := await segue.get(task))["status"] != "WAITING_USER":
                await asyncio.sleep(0.02)
            await segue.advance(task, "directory_confirm", ANSWER, idempotency_key="a")
            while (await segue.get(task))["status"] != "COMPLETED":
                await asyncio.sleep(0.02)
            streamed = [e async for e in segue.stream(task)]
            assert streamed[-1]["type"] == "task_completed"
            assert streamed == await segue.events(task)
            assert await segue.artifact(task, "directory_confirm") == ANSWER
            assert {a["step"] for a in await segue.artifacts(task)} >= {"directory_confirm"}
            assert (await segue.list_tasks(limit=1))["tasks"][0]["id"] == task
            assert [p["pipeline"] for p in await segue.pipelines()] == ["doc"]
            assert (await segue.register(DOC))["created"] is False
            assert view["revision"] < (await segue.get(task))["revision"]
            with pytest.raises(NotWaiting):
                await segue.advance(task, "directory_confirm", ANSWER)
            with pytest.raises(NotFound):
                await segue.cancel("nope")
            with pytest.raises(Conflict):
                await segue.retry(task)
            with pytest.raises(NotFound):
                [e async for e in segue.stream("nope")]
        async with AsyncClient(f"http://127.0.0.1:{free_port()}", timeout=2) as down:
            with pytest.raises(ConnectionFailed):
                await down.get("x")

    asyncio.run(scenario())
