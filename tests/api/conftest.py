"""A real HTTP server on loopback for each test: uvicorn in a thread, on a free port."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn

from segue import Segue
from segue.api import create_app
from segue.api.auth import Caller, Tokens, hash_token
from segue.api.body import Limits
from tests.support.server import free_port, served

DOC = """
pipeline: doc
version: 1
config:
  type: object
  properties: {auto_confirm: {type: boolean, default: false}}
  additionalProperties: false
steps:
  - {id: upload, type: auto, depends_on: [], run: segue.builtins:passthrough, with: {directory: [{title: Intro, level: 1}, {title: Body, level: 1}]}}
  - {id: abstract, type: auto, run: segue.builtins:passthrough}
  - id: directory_confirm
    type: wait_user
    title: Confirm the outline
    when: "!config.auto_confirm"
    prefill: "{'directory': artifacts.upload.params.directory}"
    input_schema:
      type: object
      required: [directory]
      additionalProperties: false
      properties:
        directory:
          type: array
          minItems: 1
          items:
            type: object
            required: [title, level]
            additionalProperties: false
            properties:
              title: {type: string, minLength: 1}
              level: {type: integer, minimum: 1, maximum: 6}
  - {id: directory_parse, type: auto, run: segue.builtins:passthrough}
  - {id: embed, type: auto, run: segue.builtins:passthrough}
"""

TOKENS = {
    "admin-secret": Caller(name="root", role="admin"),
    "operator-secret": Caller(name="alice", role="operator"),
    "viewer-secret": Caller(name="victor", role="viewer"),
    "other-secret": Caller(name="olga", role="operator", pipelines=frozenset({"other"})),
    "reviewer-secret": Caller(name="rita", role="operator", extra_roles=frozenset({"reviewer"})),
}


@contextmanager
def serve(
    engine: Segue, *, tokens: Tokens | None = None, limits: Limits | None = None, workers: int = 1
) -> Iterator[str]:
    port = free_port()
    app = create_app(engine.service, tokens=tokens, limits=limits, workers=workers)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Segue]:
    with Segue(f"sqlite:///{tmp_path / 'api.db'}", blob_dir=tmp_path / "blobs") as e:
        e.register(DOC)
        yield e


@contextmanager
def serve_process(tmp_path: Path) -> Iterator[str]:
    """``segue serve`` as a real subprocess on a free loopback port."""
    definition = tmp_path / "doc.yaml"
    definition.write_text(DOC)
    database = f"sqlite:///{tmp_path / 'served.db'}"
    with served(database, "--pipelines", str(definition), log=tmp_path / "served.log") as (url, _):
        yield url


@pytest.fixture
def base_url(engine: Segue) -> Iterator[str]:
    """A real server on loopback, in a thread of this process."""
    with serve(engine) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as c:
        yield c


@pytest.fixture
def authed(engine: Segue) -> Iterator[Callable[[str | None], httpx.Client]]:
    tokens = Tokens({hash_token(secret): caller for secret, caller in TOKENS.items()})
    clients: list[httpx.Client] = []
    with serve(engine, tokens=tokens) as url:

        def make(secret: str | None) -> httpx.Client:
            headers = {"Authorization": f"Bearer {secret}"} if secret else {}
            c = httpx.Client(base_url=url, timeout=10, headers=headers)
            clients.append(c)
            return c

        yield make
        for c in clients:
            c.close()


def wait_status(
    client: httpx.Client,
    task_id: str,
    wanted: str,
    timeout: float = 15,
    *,
    after_revision: int = -1,
) -> dict:
    """Poll until the task has ``wanted`` status, at a revision past ``after_revision``."""
    deadline = time.monotonic() + timeout
    while True:
        view = client.get(f"/tasks/{task_id}").json()
        if view["status"] == wanted and view["revision"] > after_revision:
            return view
        assert time.monotonic() < deadline, f"task is {view['status']}, not {wanted}"
        time.sleep(0.02)
