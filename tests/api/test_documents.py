"""The document pipeline over HTTP: upload a file, confirm an edited outline, search."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from segue import Segue
from segue.api.body import Limits
from segue.pipelines import path as pipeline_path
from tests.api.conftest import serve, serve_process, wait_status
from tests.support.documents import document

PEP8 = document("pep-0008.rst").read_bytes()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[httpx.Client]:
    """A real `segue serve` subprocess (it registers doc_ingest itself)."""
    with serve_process(tmp_path) as url, httpx.Client(base_url=url, timeout=30) as c:
        yield c


@pytest.fixture
def docs_engine(engine: Segue) -> Segue:
    engine.register(pipeline_path("doc_ingest").read_text(encoding="utf-8"))
    return engine


def test_start_with_a_file_confirm_an_edited_outline_and_search(served: httpx.Client) -> None:
    uploaded = served.post(
        "/files",
        content=PEP8,
        params={"filename": "pep-0008.rst"},
        headers={"Content-Type": "application/octet-stream"},
    )
    assert uploaded.status_code == 201, uploaded.text
    ref = uploaded.json()
    assert ref["sha256"] == hashlib.sha256(PEP8).hexdigest() and ref["size"] == len(PEP8)
    assert uploaded.headers["location"] == f"/files/{ref['sha256']}"

    started = served.post(
        "/tasks", json={"pipeline": "doc_ingest", "config": {"document": ref["document"]}}
    )
    assert started.status_code == 201, started.text
    view = wait_status(served, started.json()["id"], "WAITING_USER", timeout=60)
    required = view["required_input"]
    assert required["step"] == "directory_confirm"
    draft = required["prefill"]["directory"]
    assert {"title", "level", "anchor"} <= set(draft[0])

    edited = [e for e in draft if e["title"] != "Introduction"]
    renamed = next(e for e in edited if e["title"] == "Naming Conventions")
    renamed["title"] = "Names"
    answered = served.post(
        f"/tasks/{view['id']}/advance",
        json={"step": "directory_confirm", "input": {"directory": edited}},
    )
    assert answered.status_code == 200, answered.text
    done = wait_status(served, view["id"], "COMPLETED", timeout=60)

    sections = served.get(f"/tasks/{done['id']}/artifacts/directory_parse").json()["sections"]
    assert [s["title"] for s in sections] == [e["title"] for e in edited]
    assert next(s for s in sections if s["title"] == "Names")["text"].startswith("Naming")
    hits = served.get(f"/tasks/{done['id']}/search", params={"q": "Tabs or Spaces?", "k": 3})
    assert hits.status_code == 200, hits.text
    assert hits.json()[0]["title"] == "Tabs or Spaces?"
    hits = served.get(
        f"/tasks/{done['id']}/search", params={"q": "maximum line length 79 characters"}
    )
    assert any("Line Length" in h["title"] for h in hits.json())

    original = served.get(f"/files/{ref['sha256']}")
    assert original.content == PEP8 and original.headers["etag"] == f'"{ref["sha256"]}"'


def test_multipart_upload_takes_the_filename_from_the_part(client: httpx.Client) -> None:
    response = client.post(
        "/files", files={"file": ("notes.md", b"# Notes\n\ntext\n", "text/markdown")}
    )
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == "notes.md"
    again = client.post("/files", content=b"# Notes\n\ntext\n", params={"filename": "copy.md"})
    assert again.json()["sha256"] == response.json()["sha256"]  # same bytes, stored once


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"content": b"abc"}, 400, "filename_invalid"),
        ({"content": b"", "params": {"filename": "a.md"}}, 422, "file_empty"),
        ({"content": b"x", "params": {"filename": "../.."}}, 400, "filename_invalid"),
        ({"files": {"other": ("a.md", b"x")}}, 400, "file_missing"),
    ],
)
def test_bad_uploads_get_a_problem_and_store_nothing(
    client: httpx.Client, tmp_path: Path, kwargs: dict, status: int, code: str
) -> None:
    response = client.post("/files", **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["type"].endswith(code)


def test_an_upload_over_the_limit_is_refused_with_413(engine: Segue) -> None:
    with (
        serve(engine, limits=Limits(max_upload_bytes=1000)) as url,
        httpx.Client(base_url=url) as c,
    ):
        response = c.post("/files", content=b"x" * 1001, params={"filename": "big.txt"})
        assert response.status_code == 413
        assert (
            c.post("/files", content=b"x" * 1000, params={"filename": "ok.txt"}).status_code == 201
        )


def test_unknown_files_and_not_yet_searchable_tasks(
    docs_engine: Segue, client: httpx.Client
) -> None:
    assert client.get(f"/files/{'0' * 64}").status_code == 404
    assert client.get("/files/not-a-hash").status_code == 400
    assert client.get("/tasks/nope/search", params={"q": "x"}).status_code == 404
    ref = client.post("/files", content=PEP8, params={"filename": "pep-0008.rst"}).json()
    task = client.post(
        "/tasks", json={"pipeline": "doc_ingest", "config": {"document": ref["document"]}}
    ).json()
    wait_status(client, task["id"], "WAITING_USER", timeout=60)
    response = client.get(f"/tasks/{task['id']}/search", params={"q": "names"})
    assert response.status_code == 409 and "no embedded sections yet" in response.json()["detail"]


def test_viewers_may_not_upload(authed: Callable[[str | None], httpx.Client]) -> None:
    response = authed("viewer-secret").post("/files", content=b"x", params={"filename": "a.txt"})
    assert response.status_code == 403
    assert (
        authed(None).post("/files", content=b"x", params={"filename": "a.txt"}).status_code == 401
    )
    assert (
        authed("operator-secret")
        .post("/files", content=b"x", params={"filename": "a.txt"})
        .status_code
        == 201
    )


def test_serve_keeps_a_database_s_own_doc_ingest_v1_and_says_so(tmp_path: Path) -> None:
    """A database that registered the shared example's doc_ingest v1 still serves."""

    from tests.conftest import FIXTURES
    from tests.support.server import served

    url_db = f"sqlite:///{tmp_path / 'own.db'}"
    with Segue(url_db, blob_dir=tmp_path / "blobs") as engine:
        engine.register((FIXTURES / "examples" / "doc_ingest.yaml").read_text())
    log = tmp_path / "serve.log"
    with served(url_db, log=log) as (url, _):
        versions = httpx.get(f"{url}/pipelines/doc_ingest").json()
    assert [v["version"] for v in versions] == [1]
    assert "built-in doc_ingest not registered" in log.read_text()
