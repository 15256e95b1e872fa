"""What the console needs from the API, and how the console's pages sit beside it."""

from __future__ import annotations

from segue import console
from tests.api.conftest import wait_status


def start(client, **config) -> dict:
    response = client.post("/tasks", json={"pipeline": "doc", "config": config})
    assert response.status_code == 201, response.text
    return response.json()


def test_me_without_tokens_is_the_anonymous_admin(client) -> None:
    """GET /me names the caller and its role, and says that the server checks no tokens."""
    assert client.get("/me").json() == {
        "name": "anonymous",
        "role": "admin",
        "roles": [],
        "pipelines": None,
        "auth": False,
    }


def test_me_with_tokens_names_the_token_and_needs_one(authed) -> None:
    """With tokens, GET /me is 401 without one and describes each token's role and scope."""
    assert authed(None).get("/me").status_code == 401
    assert authed("viewer-secret").get("/me").json()["role"] == "viewer"
    rita = authed("reviewer-secret").get("/me").json()
    assert rita == {
        "name": "rita",
        "role": "operator",
        "roles": ["reviewer"],
        "pipelines": None,
        "auth": True,
    }
    assert authed("other-secret").get("/me").json()["pipelines"] == ["other"]


def test_counts_are_per_status_with_zeros_and_follow_the_pipeline_filter(client) -> None:
    """GET /tasks/counts lists every status; ?pipeline= narrows it; an unknown one is all zeros."""
    for _ in range(2):
        wait_status(client, start(client)["id"], "WAITING_USER")
    wait_status(client, start(client, auto_confirm=True)["id"], "COMPLETED")
    body = client.get("/tasks/counts").json()
    assert body["counts"]["WAITING_USER"] == 2
    assert body["counts"]["COMPLETED"] == 1
    assert body["counts"]["FAILED"] == 0
    assert body["total"] == 3
    assert client.get("/tasks/counts", params={"pipeline": "doc"}).json()["total"] == 3
    assert client.get("/tasks/counts", params={"pipeline": "nope"}).json()["total"] == 0


def test_counts_leave_out_what_a_scoped_token_cannot_see(authed) -> None:
    """A token limited to other pipelines counts none of this one's tasks."""
    authed("operator-secret").post("/tasks", json={"pipeline": "doc"})
    assert authed("viewer-secret").get("/tasks/counts").json()["total"] == 1
    assert authed("other-secret").get("/tasks/counts").json()["total"] == 0
    assert authed("other-secret").get("/tasks/counts?pipeline=doc").json()["total"] == 0


def test_tasks_can_be_found_by_the_start_of_their_id(client) -> None:
    """?id= keeps the tasks whose id starts with it, in any case; other characters are a 400."""
    first, second = start(client), start(client)
    found = client.get("/tasks", params={"id": first["id"][:-4]}).json()["tasks"]
    assert [t["id"] for t in found] == [first["id"]]
    whole = client.get("/tasks", params={"id": second["id"].upper()}).json()["tasks"]
    assert [t["id"] for t in whole] == [second["id"]]
    assert client.get("/tasks", params={"id": "ffffffff"}).json()["tasks"] == []
    bad = client.get("/tasks", params={"id": "a%"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["pointer"] == "/id"


def test_a_pipeline_version_lists_its_steps_with_resolved_dependencies(client) -> None:
    """Steps without depends_on follow the one above; wait steps and conditions are marked."""
    detail = client.get("/pipelines/doc/versions/1").json()
    steps = {s["id"]: s for s in detail["steps"]}
    assert steps["upload"]["depends_on"] == []
    assert steps["abstract"]["depends_on"] == ["upload"]
    assert steps["directory_confirm"]["type"] == "wait_user"
    assert steps["directory_confirm"]["when"] == "!config.auto_confirm"
    assert detail["config_schema"]["properties"]["auto_confirm"]["type"] == "boolean"


def test_the_console_pages_are_html_and_api_404s_stay_problems(client) -> None:
    """/, /new and /task/{id} serve the console; unknown paths and tasks stay problem+json."""
    assert console.available(), "the console is not built: run make console"
    for path in ("/", "/new", "/task/0123"):
        response = client.get(path, headers={"accept": "text/html"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == "no-cache"
    for path in ("/tasks/0123", "/nowhere", "/task/1/2", "/assets/nothing.js", "/assets/..%2Fx"):
        response = client.get(path, headers={"accept": "text/html"})
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json", path


def test_the_console_assets_are_served_and_cached_for_good(client) -> None:
    """The built files named by index.html are served with their type and an immutable cache."""
    page = client.get("/").text
    names = [part.split('"')[0] for part in page.split('src="/assets/')[1:]]
    assert names, "index.html names no script"
    response = client.get(f"/assets/{names[0]}")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert "immutable" in response.headers["cache-control"]


def test_the_console_routes_are_not_part_of_the_openapi_schema(client) -> None:
    """The API's contract lists API paths only."""
    paths = client.get("/openapi.json").json()["paths"]
    assert "/me" in paths and "/tasks/counts" in paths
    assert not any(p == "/" or p.startswith(("/task/", "/assets", "/new")) for p in paths)
