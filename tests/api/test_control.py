"""Operator controls over real HTTP: rerun (re-confirm), skip, history, fork."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.api.conftest import wait_status

ANSWER = {"directory": [{"title": "Introduction", "level": 1}]}


def completed(client: httpx.Client) -> dict:
    task = client.post("/tasks", json={"pipeline": "doc"}).json()
    wait_status(client, task["id"], "WAITING_USER")
    client.post(f"/tasks/{task['id']}/advance", json={"step": "directory_confirm", "input": ANSWER})
    return wait_status(client, task["id"], "COMPLETED")


def test_rerun_a_wait_step_to_re_confirm_it(client: httpx.Client) -> None:
    done = completed(client)
    response = client.post(
        f"/tasks/{done['id']}/rerun", json={"step": "directory_confirm", "reason": "typo"}
    )
    assert response.status_code == 200, response.text
    view = wait_status(client, done["id"], "WAITING_USER")
    assert view["required_input"]["prefill"] == ANSWER
    again = {"directory": [{"title": "Intro, fixed", "level": 1}]}
    client.post(f"/tasks/{done['id']}/advance", json={"step": "directory_confirm", "input": again})
    wait_status(client, done["id"], "COMPLETED")
    history = client.get(f"/tasks/{done['id']}/artifacts", params={"all_attempts": True}).json()
    confirms = [
        (a["generation"], a["current"], a["value"])
        for a in history
        if a["step"] == "directory_confirm"
    ]
    assert confirms == [(1, False, ANSWER), (2, True, again)]


def test_rerun_with_input_and_its_refusals(client: httpx.Client) -> None:
    done = completed(client)
    url = f"/tasks/{done['id']}/rerun"
    bad = client.post(url, json={"step": "directory_confirm", "input": {"directory": []}})
    assert bad.status_code == 422
    assert client.post(url, json={"step": "nope"}).status_code == 404
    assert client.post(url, json={"step": "upload", "input": {}}).status_code == 409
    assert client.post(url, json={"stepp": "upload"}).status_code == 422
    assert client.post("/tasks/none/rerun", json={"step": "upload"}).status_code == 404
    ok = client.post(url, json={"step": "directory_confirm", "input": ANSWER})
    assert ok.status_code == 200
    wait_status(client, done["id"], "COMPLETED")


def test_rerun_is_idempotent_under_a_key(client: httpx.Client) -> None:
    done = completed(client)
    url, body = f"/tasks/{done['id']}/rerun", {"step": "directory_confirm"}
    first = client.post(url, json=body, headers={"Idempotency-Key": "r1"})
    second = client.post(url, json=body, headers={"Idempotency-Key": "r1"})
    assert first.status_code == second.status_code == 200
    assert first.json()["revision"] == second.json()["revision"]
    events = client.get(f"/tasks/{done['id']}/events").json()["events"]
    assert [e["type"] for e in events].count("task_reopened") == 1


def test_skip_a_waiting_step(client: httpx.Client) -> None:
    task = client.post("/tasks", json={"pipeline": "doc"}).json()
    wait_status(client, task["id"], "WAITING_USER")
    skipped = client.post(
        f"/tasks/{task['id']}/steps/directory_confirm/skip", json={"reason": "n/a"}
    )
    assert skipped.status_code == 200, skipped.text
    done = wait_status(client, task["id"], "COMPLETED")
    assert next(s for s in done["steps"] if s["id"] == "directory_confirm")["reason"] == "n/a"
    again = client.post(f"/tasks/{task['id']}/steps/directory_confirm/skip")
    assert again.status_code == 409


def test_history_and_fork(client: httpx.Client) -> None:
    done = completed(client)
    events = client.get(f"/tasks/{done['id']}/events").json()["events"]
    waiting = next(e["seq"] for e in events if e["type"] == "step_waiting")
    past = client.get(f"/tasks/{done['id']}/history", params={"at": waiting}).json()
    assert past["at"] == waiting and past["revision"] == done["revision"]
    assert past["event"]["type"] == "step_waiting"
    assert past["task"]["status"] == "WAITING_USER"
    assert {a["step"] for a in past["artifacts"]} == {"upload", "abstract"}
    assert client.get(f"/tasks/{done['id']}/history", params={"at": 9999}).status_code == 409
    assert client.get(f"/tasks/{done['id']}/history", params={"at": 0}).status_code == 400

    forked = client.post(f"/tasks/{done['id']}/fork", json={"at_seq": waiting})
    assert forked.status_code == 201, forked.text
    assert forked.headers["location"] == f"/tasks/{forked.json()['id']}"
    view = wait_status(client, forked.json()["id"], "WAITING_USER")
    assert view["id"] != done["id"]
    assert client.get(f"/tasks/{done['id']}").json()["revision"] == done["revision"]


def test_roles_for_the_controls(authed: Callable[[str | None], httpx.Client]) -> None:
    admin, operator, viewer = (
        authed("admin-secret"),
        authed("operator-secret"),
        authed("viewer-secret"),
    )
    done = completed(admin)
    url = f"/tasks/{done['id']}"
    assert viewer.post(f"{url}/rerun", json={"step": "directory_confirm"}).status_code == 403
    assert viewer.post(f"{url}/fork", json={"at_seq": 1}).status_code == 403
    assert viewer.get(f"{url}/history", params={"at": 1}).status_code == 200
    assert operator.post(f"{url}/steps/upload/skip").status_code == 403
    assert operator.post(f"{url}/rerun", json={"step": "directory_confirm"}).status_code == 200


V2 = """
pipeline: doc
version: 2
config:
  type: object
  properties: {auto_confirm: {type: boolean, default: false}}
  additionalProperties: false
steps:
  - {id: upload, type: auto, depends_on: [], run: segue.builtins:passthrough, with: {directory: [{title: Intro, level: 1}]}}
  - {id: abstract, type: auto, run: segue.builtins:passthrough}
  - id: directory_confirm
    type: wait_user
    input_schema: {type: object, required: [directory], properties: {directory: {type: array, minItems: 1}}}
  - {id: review, type: wait_user, input_schema: {type: object}}
  - {id: directory_parse, type: auto, run: segue.builtins:passthrough}
"""


def test_plan_then_migrate_over_http(client: httpx.Client) -> None:
    done = completed(client)
    task = client.post("/tasks", json={"pipeline": "doc"}).json()
    wait_status(client, task["id"], "WAITING_USER")
    plan = client.post("/pipelines/plan", content=V2, headers={"Content-Type": "application/yaml"})
    assert plan.status_code == 200, plan.text
    (group,) = plan.json()["groups"]
    assert (group["version"], group["current_step"], group["can_migrate"]) == (
        1,
        "directory_confirm",
        True,
    )
    assert client.get("/pipelines/doc/versions/2").status_code == 404  # planning registers nothing

    client.post("/pipelines", content=V2, headers={"Content-Type": "application/yaml"})
    moved = client.post(f"/tasks/{task['id']}/migrate", json={"to_version": 2, "reason": "review"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["version"] == 2
    client.post(f"/tasks/{task['id']}/advance", json={"step": "directory_confirm", "input": ANSWER})
    view = wait_status(client, task["id"], "WAITING_USER")
    assert view["current_step"] == "review"

    refused = client.post(f"/tasks/{done['id']}/migrate", json={"to_version": 2})
    assert refused.status_code == 409
    assert "COMPLETED" in refused.json()["detail"]


def test_cancel_and_retry_are_idempotent_under_a_key(client: httpx.Client) -> None:
    task = client.post("/tasks", json={"pipeline": "doc"}).json()
    wait_status(client, task["id"], "WAITING_USER")
    url, key = f"/tasks/{task['id']}/cancel", {"Idempotency-Key": "c1"}
    first = client.post(url, json={"reason": "dup"}, headers=key)
    again = client.post(url, json={"reason": "dup"}, headers=key)
    assert first.status_code == again.status_code == 200 and again.json()["status"] == "CANCELLED"
    other = client.post(url, json={"reason": "different"}, headers=key)
    assert other.status_code == 422  # the same key for another request
    assert client.post(url, json={"reason": "dup"}).status_code == 409  # no key: already cancelled
