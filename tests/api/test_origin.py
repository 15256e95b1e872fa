"""Cross-site writes are refused: a page elsewhere cannot drive the server (CSRF)."""

from __future__ import annotations

import json

import httpx

from tests.api.conftest import wait_status

ANSWER = {"step": "directory_confirm", "input": {"directory": [{"title": "pwned", "level": 1}]}}


def waiting(client: httpx.Client) -> dict:
    response = client.post("/tasks", json={"pipeline": "doc", "config": {}})
    assert response.status_code == 201, response.text
    return wait_status(client, response.json()["id"], "WAITING_USER")


def test_a_write_from_another_sites_page_is_403_and_changes_nothing(client) -> None:
    view = waiting(client)
    # What a form or fetch() on another site sends without a CORS preflight.
    forged = {"content-type": "text/plain", "origin": "http://evil.example"}
    for path, body in [
        (f"/tasks/{view['id']}/advance", ANSWER),
        (f"/tasks/{view['id']}/cancel", {}),
        ("/tasks", {"pipeline": "doc", "config": {}}),
    ]:
        response = client.post(path, content=json.dumps(body), headers=forged)
        assert response.status_code == 403, response.text
        assert response.json()["type"] == "urn:segue:error:cross_site"
        assert "http://evil.example" in response.json()["detail"]
    marked = client.post(
        f"/tasks/{view['id']}/cancel", json={}, headers={"sec-fetch-site": "cross-site"}
    )
    assert marked.status_code == 403
    after = client.get(f"/tasks/{view['id']}").json()
    assert (after["status"], after["revision"]) == ("WAITING_USER", view["revision"])
    assert client.get("/tasks", params={"limit": 10}).json()["tasks"][0]["id"] == view["id"]


def test_same_origin_pages_and_clients_without_origin_still_write(client, base_url) -> None:
    view = waiting(client)
    same = client.post(f"/tasks/{view['id']}/advance", json=ANSWER, headers={"origin": base_url})
    assert same.status_code == 200, same.text
    other = waiting(client)  # httpx, like curl, sends no Origin
    assert client.post(f"/tasks/{other['id']}/advance", json=ANSWER).status_code == 200
    reads = client.get(f"/tasks/{view['id']}", headers={"origin": "http://evil.example"})
    assert reads.status_code == 200  # reads are not writes (and CORS keeps them from the page)


def test_a_page_that_points_its_name_at_this_machine_gets_nothing(client) -> None:
    """DNS rebinding: the browser sends the attacker's name as Host and its own Origin,
    so the request looks same-site. Without tokens only loopback names and addresses are
    answered, reads included."""
    view = waiting(client)
    rebound = {"host": "rebind.evil.example:8741", "origin": "http://rebind.evil.example:8741"}
    for method, path in [("GET", "/tasks"), ("GET", f"/tasks/{view['id']}"), ("POST", "/tasks")]:
        response = client.request(
            method, path, headers={**rebound, "content-type": "text/plain"}, content=b"{}"
        )
        assert response.status_code == 403, response.text
        assert response.json()["type"] == "urn:segue:error:host_not_allowed"
    for host in ["localhost:1234", "127.0.0.1:1234", "[::1]:1234", "app.localhost"]:
        assert client.get("/healthz", headers={"host": host}).status_code == 200
    after = client.get(f"/tasks/{view['id']}").json()
    assert after["revision"] == view["revision"]
