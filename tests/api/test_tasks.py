"""The two-call contract and its error cases, over real HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from segue import Segue
from tests.api.conftest import serve, serve_process, wait_status


@pytest.fixture(params=["thread", "process"])
def base_url(request: pytest.FixtureRequest, engine: Segue, tmp_path: Path) -> Iterator[str]:
    """These end-to-end paths run on a server thread and on a real `segue serve` subprocess."""
    if request.param == "thread":
        with serve(engine) as url:
            yield url
    else:
        with serve_process(tmp_path) as url:
            yield url


ANSWER = {"directory": [{"title": "Introduction", "level": 1}, {"title": "Body", "level": 2}]}


def start(client: httpx.Client, **config) -> dict:
    response = client.post("/tasks", json={"pipeline": "doc", "config": config})
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/tasks/{response.json()['id']}"
    return wait_status(client, response.json()["id"], "WAITING_USER")


def test_get_shows_the_wait_step_with_its_schema_and_prefill(client) -> None:
    """GET /tasks/{id} says WAITING_USER at directory_confirm, with schema and prefill."""
    view = start(client)
    assert view["current_step"] == "directory_confirm"
    need = view["required_input"]
    assert need["title"] == "Confirm the outline"
    assert need["schema"]["required"] == ["directory"]
    assert need["prefill"] == {
        "directory": [{"title": "Intro", "level": 1}, {"title": "Body", "level": 1}]
    }
    assert need["can_answer"] is True
    assert view["allowed_actions"] == ["advance", "cancel", "rerun", "fork", "skip", "migrate"]
    etag = client.get(f"/tasks/{view['id']}").headers["etag"]
    assert etag == f'"{view["revision"]}"'


def test_a_schema_breaking_advance_is_422_with_pointers_and_changes_nothing(client) -> None:
    """422 lists each violation by JSON pointer; revision and event count stay the same."""
    view = start(client)
    before = client.get(f"/tasks/{view['id']}/events").json()["events"]
    bad = {"directory": [{"title": "", "level": 9}, {"level": 1}]}
    response = client.post(
        f"/tasks/{view['id']}/advance", json={"step": "directory_confirm", "input": bad}
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == "urn:segue:error:input_invalid"
    pointers = sorted(e["pointer"] for e in problem["errors"])
    assert pointers == ["/directory/0/level", "/directory/0/title", "/directory/1/title"]
    after = client.get(f"/tasks/{view['id']}").json()
    assert after["revision"] == view["revision"]
    assert client.get(f"/tasks/{view['id']}/events").json()["events"] == before


def test_a_valid_advance_completes_the_task_and_keeps_the_patch(client) -> None:
    """200 with the new view; the task completes; the artifact keeps prefill and patch."""
    view = start(client)
    response = client.post(
        f"/tasks/{view['id']}/advance", json={"step": "directory_confirm", "input": ANSWER}
    )
    assert response.status_code == 200, response.text
    assert response.json()["revision"] > view["revision"]
    wait_status(client, view["id"], "COMPLETED")
    artifacts = {a["step"]: a for a in client.get(f"/tasks/{view['id']}/artifacts").json()}
    confirm = artifacts["directory_confirm"]
    assert confirm["value"] == ANSWER
    assert confirm["meta"]["prefill"]["directory"][0]["title"] == "Intro"
    ops = {(op["op"], op["path"]) for op in confirm["meta"]["patch"]}
    assert ("replace", "/directory/0/title") in ops
    one = client.get(f"/tasks/{view['id']}/artifacts/directory_confirm")
    assert one.json() == ANSWER and one.headers["etag"] == f'"{confirm["sha256"]}"'
    no_step = client.get(f"/tasks/{view['id']}/artifacts/nosuch")
    assert no_step.status_code == 404 and no_step.json()["type"].endswith(":step_not_found")
    no_attempt = client.get(f"/tasks/{view['id']}/artifacts/directory_confirm?attempt=7")
    assert no_attempt.status_code == 404
    assert no_attempt.json()["type"].endswith(":artifact_not_found")
    assert (no_attempt.json()["step"], no_attempt.json()["attempt"]) == ("directory_confirm", 7)
    events = client.get(f"/tasks/{view['id']}/events").json()["events"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "task_completed"


def test_a_replayed_idempotent_advance_returns_the_same_body(client) -> None:
    """The same Idempotency-Key and body replays the first response; another body is 422."""
    view = start(client)
    body = {"step": "directory_confirm", "input": ANSWER}
    headers = {"Idempotency-Key": "k-1"}
    first = client.post(f"/tasks/{view['id']}/advance", json=body, headers=headers)
    again = client.post(f"/tasks/{view['id']}/advance", json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    other = client.post(
        f"/tasks/{view['id']}/advance",
        json={"step": "directory_confirm", "input": {"directory": []}},
        headers=headers,
    )
    assert other.status_code == 422
    assert other.json()["type"] == "urn:segue:error:idempotency_conflict"
    submitted = [
        e
        for e in client.get(f"/tasks/{view['id']}/events").json()["events"]
        if e["type"] == "input_submitted"
    ]
    assert len(submitted) == 1


def answer_at_once(base_url: str, task_id: str, titles: tuple[str, ...]) -> list[httpx.Response]:
    """Release one thread per title from a barrier; each answers the wait step."""
    barrier = threading.Barrier(len(titles))
    results: list[httpx.Response] = []

    def answer(title: str) -> None:
        with httpx.Client(base_url=base_url, timeout=10) as c:
            body = {
                "step": "directory_confirm",
                "input": {"directory": [{"title": title, "level": 1}]},
            }
            barrier.wait()
            results.append(c.post(f"/tasks/{task_id}/advance", json=body))

    threads = [threading.Thread(target=answer, args=(t,)) for t in titles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_concurrent_advances_yield_one_200_and_one_409(client, base_url) -> None:
    """B02: two clients answer at once: exactly one wins, the other sees 409 and the task."""
    for _ in range(10):
        view = start(client)
        results = answer_at_once(base_url, view["id"], ("A", "B"))
        codes = sorted(r.status_code for r in results)
        assert codes == [200, 409], [r.text for r in results]
        loser = next(r for r in results if r.status_code == 409).json()
        assert loser["type"] in (
            "urn:segue:error:step_not_waiting",
            "urn:segue:error:task_finished",
        )
        assert loser["task"]["id"] == view["id"]
        winner = next(r for r in results if r.status_code == 200).json()
        stored = client.get(f"/tasks/{view['id']}/artifacts/directory_confirm").json()
        assert stored["directory"][0]["title"] in ("A", "B")
        assert winner["revision"] >= view["revision"] + 1
        submitted = [
            e
            for e in client.get(f"/tasks/{view['id']}/events").json()["events"]
            if e["type"] == "input_submitted"
        ]
        assert len(submitted) == 1


def test_bad_requests_get_clear_problems(client) -> None:
    """Not JSON 400, unknown field 422, unknown task 404, unknown step 404, stale 409, If-Match 412."""
    view = start(client)
    url = f"/tasks/{view['id']}/advance"
    assert (
        client.post(
            url, content=b"{not json", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    unknown = client.post(url, json={"step": "directory_confirm", "input": ANSWER, "extra": 1})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["pointer"] == "/extra"
    assert client.post("/tasks/nope/advance", json={"step": "x", "input": {}}).status_code == 404
    assert client.get("/tasks/nope").json()["type"] == "urn:segue:error:task_not_found"
    assert client.post(url, json={"step": "nosuch", "input": {}}).status_code == 404
    stale = client.post(url, json={"step": "upload", "input": {}})
    assert stale.status_code == 409
    assert stale.json()["waiting"] == ["directory_confirm"]
    old = client.post(
        url, json={"step": "directory_confirm", "input": ANSWER}, headers={"If-Match": '"1"'}
    )
    assert old.status_code == 412
    assert client.post("/tasks", json={"pipeline": "nope"}).status_code == 404
    assert (
        client.post("/tasks", json={"pipeline": "doc", "config": {"auto_confirm": "x"}}).status_code
        == 422
    )
    assert client.get("/tasks?cursor=%%%").status_code == 400
    assert client.get("/tasks?limit=1000").status_code == 400
    assert client.get("/tasks?status=DONE").status_code == 400
    assert client.get(f"/tasks/{view['id']}").json()["revision"] == view["revision"]


def test_an_oversized_body_is_413_and_changes_nothing(engine) -> None:
    """A body over the configured limit is refused before it is read."""
    from segue.api.body import Limits
    from tests.api.conftest import serve

    with (
        serve(engine, limits=Limits(max_body_bytes=2048)) as url,
        httpx.Client(base_url=url, timeout=10) as client,
    ):
        view = start(client)
        big = {
            "step": "directory_confirm",
            "input": {"directory": [{"title": "x" * 5000, "level": 1}]},
        }
        response = client.post(f"/tasks/{view['id']}/advance", json=big)
        assert response.status_code == 413
        assert "2048 bytes" in response.json()["detail"]
        assert client.get(f"/tasks/{view['id']}").json()["revision"] == view["revision"]


def test_listing_is_newest_first_with_a_stable_cursor(client) -> None:
    """Keyset pagination: pages do not overlap, and new tasks do not shift older pages."""
    ids = [client.post("/tasks", json={"pipeline": "doc"}).json()["id"] for _ in range(5)]
    first = client.get("/tasks?limit=2").json()
    assert [t["id"] for t in first["tasks"]] == ids[::-1][:2]
    client.post("/tasks", json={"pipeline": "doc"})
    second = client.get(f"/tasks?limit=2&cursor={first['next_cursor']}").json()
    assert [t["id"] for t in second["tasks"]] == ids[::-1][2:4]


def test_the_stream_sends_every_event_and_resumes(client, base_url) -> None:
    """SSE: the events arrive in order; Last-Event-ID resumes after the one named."""
    view = start(client)
    client.post(f"/tasks/{view['id']}/advance", json={"step": "directory_confirm", "input": ANSWER})
    wait_status(client, view["id"], "COMPLETED")
    with (
        httpx.Client(base_url=base_url, timeout=10) as c,
        c.stream("GET", f"/tasks/{view['id']}/stream") as response,
    ):
        ids = [int(line[4:]) for line in response.iter_lines() if line.startswith("id: ")]
    total = len(client.get(f"/tasks/{view['id']}/events").json()["events"])
    assert ids == list(range(1, total + 1))
    with (
        httpx.Client(base_url=base_url, timeout=10) as c,
        c.stream(
            "GET", f"/tasks/{view['id']}/stream", headers={"Last-Event-ID": str(total - 2)}
        ) as response,
    ):
        resumed = [int(line[4:]) for line in response.iter_lines() if line.startswith("id: ")]
    assert resumed == [total - 1, total]


def test_a_long_id_is_quoted_cut_and_a_byte_order_mark_is_ignored(client) -> None:
    """A 5,000-character id in a URL is quoted by its start and length; a JSON body that
    starts with a UTF-8 byte order mark is read as JSON (RFC 8259 lets a reader ignore it)."""
    missing = client.get(f"/tasks/{'a' * 5000}")
    assert missing.status_code == 404
    assert missing.json()["detail"] == f"No task has id '{'a' * 59}… (5000 characters)'."
    assert len(missing.content) < 1000  # the id is not echoed whole in another field either
    view = start(client)
    no_step = client.get(f"/tasks/{view['id']}/artifacts/{'s' * 300}")
    assert no_step.status_code == 404 and len(no_step.content) < 1000
    marked = client.post(
        f"/tasks/{view['id']}/advance",
        content=b"\xef\xbb\xbf"
        + json.dumps({"step": "directory_confirm", "input": ANSWER}).encode(),
        headers={"content-type": "application/json"},
    )
    assert marked.status_code == 200, marked.text


def test_refusals_name_the_problem_in_plain_words(client) -> None:
    """An out-of-range number, a body that is not an object and a long offending value each
    get one short sentence; the task is unchanged."""
    view = start(client)
    url = f"/tasks/{view['id']}/advance"
    huge = client.post(
        url,
        content=b'{"step": "directory_confirm", "input": {"directory": 1e999}}',
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 400, huge.text
    assert huge.json()["detail"] == (
        "The request body is not valid JSON: the number 1e999 is too large to hold."
    )
    too_long = client.post(
        url, json={"step": "directory_confirm", "input": {"directory": [{"title": "t" * 100_001}]}}
    )
    assert too_long.status_code == 422
    assert too_long.json()["detail"] == (
        "A string at /input/directory/0/title is 100001 characters long, over the limit of 100000."
    )
    assert too_long.json()["errors"][0]["pointer"] == "/input/directory/0/title"
    for body, pointer in [  # a lone surrogate as a name: quoted back escaped, never a 500
        (b'{"step": "directory_confirm", "input": {"a": {"\\ud800": 1}}}', "/a"),
        (b'{"\\ud800": 1}', ""),
    ]:
        named = client.post(url, content=body, headers={"content-type": "application/json"})
        assert named.status_code == 422, named.text
        assert named.json()["errors"][0]["pointer"] == pointer
        assert named.content.isascii()
        detail = named.json()["detail"]
        assert "lone surrogate" in detail and ": :" not in detail
    config = client.post("/tasks", content=b'{"pipeline": "doc", "config": {"\\ud800": 1}}')
    assert config.status_code == 422 and config.json()["errors"][0]["pointer"] == ""
    empty = client.post(url, content=b"  ", headers={"content-type": "application/json"})
    assert empty.status_code == 400
    assert empty.json()["detail"] == "The request body is empty; send a JSON object."
    array = client.post(url, json=[{"step": "directory_confirm"}])
    assert array.status_code == 422
    assert array.json()["detail"] == (
        "The request body must be a JSON object (fields: step, input)."
    )
    assert "Advance" not in array.text
    long = client.post(url, json={"step": "directory_confirm", "input": {"directory": "x" * 5000}})
    assert long.status_code == 422
    (error,) = long.json()["errors"]
    assert error["pointer"] == "/directory" and len(error["message"]) < 200
    assert "(5002 characters) is not of type 'array'" in error["message"]
    twice = client.post(
        url,
        content=b'{"step": "upload", "step": "directory_confirm", "input": {}}',
        headers={"content-type": "application/json"},
    )
    assert twice.status_code == 400
    assert twice.json()["detail"] == (
        'The request body is not valid JSON: the name "step" appears twice in one object.'
    )
    long_reason = client.post(f"/tasks/{view['id']}/cancel", json={"reason": "r" * 2001})
    assert long_reason.status_code == 422
    assert long_reason.json()["detail"] == (
        "The request body does not have the expected fields: "
        "/reason: String should have at most 2000 characters."
    )
    nowhere = client.get("/no/such/path")
    assert nowhere.status_code == 404
    assert (
        nowhere.json()["detail"] == "There is nothing at GET /no/such/path; see /docs for the API."
    )
    wrong_method = client.delete(url)
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"
    assert wrong_method.json()["detail"] == (
        f"DELETE {url} is not allowed: the path exists, but not with that method."
    )
    surrogate = client.post(
        url,
        content=b'{"step": "\\ud800", "input": {}}',
        headers={"content-type": "application/json"},
    )
    assert surrogate.status_code == 422
    assert surrogate.json()["errors"] == [
        {"pointer": "/step", "message": "it holds a lone surrogate, which is not text"}
    ]
    assert client.get(f"/tasks/{view['id']}").json()["revision"] == view["revision"]
