"""Bearer tokens and roles: who may read, start, answer, and what others cannot even see."""

from __future__ import annotations

from tests.api.conftest import wait_status

ANSWER = {"directory": [{"title": "Intro", "level": 1}]}


def started(make) -> str:
    admin = make("admin-secret")
    task = admin.post("/tasks", json={"pipeline": "doc"}).json()["id"]
    wait_status(admin, task, "WAITING_USER")
    return task


def test_no_token_is_401_and_a_wrong_token_too(authed) -> None:
    """Without a valid bearer token every endpoint but health is 401."""
    anonymous = authed(None)
    response = anonymous.get("/tasks")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert authed("wrong").get("/tasks").status_code == 401
    assert anonymous.get("/healthz").status_code == 200


def test_a_viewer_reads_but_cannot_advance(authed) -> None:
    """viewer: GET works, advance is 403, and allowed_actions says so."""
    task = started(authed)
    viewer = authed("viewer-secret")
    view = viewer.get(f"/tasks/{task}").json()
    assert view["allowed_actions"] == []
    assert view["required_input"]["can_answer"] is False
    response = viewer.post(
        f"/tasks/{task}/advance", json={"step": "directory_confirm", "input": ANSWER}
    )
    assert response.status_code == 403
    assert viewer.post("/tasks", json={"pipeline": "doc"}).status_code == 403


def test_a_token_scoped_to_another_pipeline_gets_404(authed) -> None:
    """A task of a pipeline outside the token's scope does not exist for it."""
    task = started(authed)
    other = authed("other-secret")
    assert other.get(f"/tasks/{task}").status_code == 404
    assert other.get(f"/tasks/{task}/events").status_code == 404
    assert (
        other.post(
            f"/tasks/{task}/advance", json={"step": "directory_confirm", "input": ANSWER}
        ).status_code
        == 404
    )
    assert other.get("/tasks").json()["tasks"] == []
    assert other.post("/tasks", json={"pipeline": "doc"}).status_code == 404


def test_the_actor_is_recorded_on_the_events_it_causes(authed) -> None:
    """The token's name is the actor of the events its calls cause."""
    operator = authed("operator-secret")
    task = operator.post("/tasks", json={"pipeline": "doc"}).json()["id"]
    wait_status(operator, task, "WAITING_USER")
    operator.post(f"/tasks/{task}/advance", json={"step": "directory_confirm", "input": ANSWER})
    events = operator.get(f"/tasks/{task}/events").json()["events"]
    assert events[0]["actor"] == "alice"
    submitted = next(e for e in events if e["type"] == "input_submitted")
    assert submitted["actor"] == "alice"


def test_operators_cannot_cancel_or_register(authed) -> None:
    """Control operations and registration need admin."""
    task = started(authed)
    operator = authed("operator-secret")
    assert operator.post(f"/tasks/{task}/cancel").status_code == 403
    assert operator.post("/pipelines", content="pipeline: x\n").status_code == 403
    admin = authed("admin-secret")
    cancelled = admin.post(f"/tasks/{task}/cancel", json={"reason": "not needed"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    assert admin.post(f"/tasks/{task}/cancel").status_code == 409


def test_a_wait_step_can_require_a_role(authed, engine) -> None:
    """A step with roles: [reviewer] is answerable only by tokens holding reviewer."""
    engine.register("""
pipeline: gated
version: 1
steps:
  - {id: check, type: wait_user, depends_on: [], roles: [reviewer], input_schema: {type: object}}
""")
    admin = authed("admin-secret")
    task = admin.post("/tasks", json={"pipeline": "gated"}).json()["id"]
    operator, reviewer = authed("operator-secret"), authed("reviewer-secret")
    assert operator.get(f"/tasks/{task}").json()["allowed_actions"] == ["rerun", "fork"]
    assert (
        operator.post(f"/tasks/{task}/advance", json={"step": "check", "input": {}}).status_code
        == 403
    )
    assert reviewer.get(f"/tasks/{task}").json()["allowed_actions"] == ["advance", "rerun", "fork"]
    done = reviewer.post(f"/tasks/{task}/advance", json={"step": "check", "input": {}})
    assert done.status_code == 200 and done.json()["status"] == "COMPLETED"


def test_hostile_bodies_and_headers_are_4xx(authed) -> None:
    """Very deep JSON, a 5,001-digit number, a huge Last-Event-ID and a junk retry body are
    refused cleanly."""
    admin = authed("admin-secret")
    task = started(authed)
    deep = '{"step": "directory_confirm", "input": ' + "[" * 5000 + "]" * 5000 + "}"
    response = admin.post(
        f"/tasks/{task}/advance", content=deep, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and response.json()["type"].endswith("too_deep")
    huge = '{"step": "directory_confirm", "input": {"n": ' + "9" * 5001 + "}}"
    response = admin.post(
        f"/tasks/{task}/advance", content=huge, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["type"].endswith("body_not_json")
    assert "more than 4300 digits" in response.json()["detail"]  # not Python's own advice
    assert "sys." not in response.json()["detail"]
    assert admin.post(
        "/pipelines", content="steps: " + "[" * 5000, headers={"content-type": "application/yaml"}
    ).status_code in (400, 422)
    stream = admin.get(f"/tasks/{task}/stream", headers={"Last-Event-ID": "9" * 30})
    assert stream.status_code == 400
    junk = admin.post(
        f"/tasks/{task}/retry", content="{not json", headers={"content-type": "application/json"}
    )
    assert junk.status_code == 400
    assert admin.get(f"/tasks/{task}").json()["status"] == "WAITING_USER"
