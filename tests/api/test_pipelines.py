"""Registering and reading pipeline versions over HTTP."""

from __future__ import annotations

from tests.api.conftest import DOC

NEW = """
pipeline: fresh
version: 1
steps:
  - {id: a, type: auto, depends_on: [], run: segue.builtins:passthrough}
"""


def test_register_is_201_new_200_same_409_changed(client) -> None:
    """Versions are immutable: same content is a no-op, different content a conflict."""
    first = client.post("/pipelines", content=NEW, headers={"content-type": "application/yaml"})
    assert first.status_code == 201 and first.json()["created"] is True
    again = client.post("/pipelines", content=NEW, headers={"content-type": "application/yaml"})
    assert again.status_code == 200 and again.json()["hash"] == first.json()["hash"]
    changed = client.post(
        "/pipelines",
        content=NEW.replace("passthrough", "sleep"),
        headers={"content-type": "application/yaml"},
    )
    assert changed.status_code == 409
    assert changed.json()["type"] == "urn:segue:error:version_conflict"


def test_an_invalid_definition_is_422_with_lines_and_columns(client) -> None:
    """Every problem comes back with its line, column and message."""
    bad = "pipeline: bad\nversion: 1\nsteps:\n  - {id: a, type: auto, depend_on: [], run: x:y}\n"
    response = client.post("/pipelines", content=bad, headers={"content-type": "application/yaml"})
    assert response.status_code == 422
    errors = response.json()["errors"]
    typo = next(e for e in errors if "depend_on" in e["message"])
    assert (typo["line"], typo["column"]) == (4, 25)
    assert (
        client.post(
            "/pipelines", content=b"\xff\xfe", headers={"content-type": "text/yaml"}
        ).status_code
        == 400
    )


def test_versions_and_their_definition_and_graph(client) -> None:
    """GET /pipelines, /pipelines/{name} and one version with its hash and Mermaid graph."""
    listed = client.get("/pipelines").json()
    assert [p["pipeline"] for p in listed] == ["doc"]
    assert client.get("/pipelines/doc").json()[0]["version"] == 1
    detail = client.get("/pipelines/doc/versions/1").json()
    assert detail["definition"]["pipeline"] == "doc"
    assert "upload --> abstract" in detail["mermaid"]
    assert client.get("/pipelines/nope").status_code == 404
    assert client.get("/pipelines/doc/versions/9").status_code == 404
    assert DOC


def test_health_and_readiness(client) -> None:
    """healthz says the process is up; readyz that the database answers at the known schema."""
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready"
