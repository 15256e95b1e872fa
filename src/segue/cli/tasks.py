"""Where the CLI's tasks are: a local database (this process runs the steps), or a server.

The commands talk to one of two adapters with the same methods, so they never
branch on where the tasks live.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from segue.app import Segue
from segue.client import Client
from segue.core.states import TaskStatus
from segue.service import UNSET, read_definition
from segue.spec import PipelineSpec, load_pipeline
from segue.types import JSONValue

REMOTE_WAIT_S = 600.0
"""How long a command waits for a server's workers to bring a task to a stop."""


def settled(view: dict[str, Any]) -> bool:
    """Whether the task waits for a person or has finished."""
    status = TaskStatus(view["status"])
    return status is TaskStatus.WAITING_USER or status.terminal


class LocalTasks:
    """What the commands do, on the local database; this process runs the steps."""

    def __init__(self, engine: Segue) -> None:
        self.engine = engine

    def view(self, task_id: str) -> dict[str, Any]:
        """The task view."""
        return self.engine.get(task_id)

    def register(self, text: str, filename: str) -> dict[str, Any]:
        """Register a definition: ``{pipeline, version, hash, created}``."""
        return _registered(*self.engine.service.register(text, filename))

    def register_path(self, path: Path) -> list[dict[str, Any]]:
        """Register a file, or a folder's definitions (all or nothing)."""
        return [_registered(*found) for found in self.engine.service.register_path(path)]

    def pipelines(self) -> list[dict[str, Any]]:
        """Every registered version."""
        return [
            {
                "pipeline": r.name,
                "version": r.version,
                "hash": r.content_hash,
                "registered_at": r.created_at,
            }
            for r in self.engine.service.pipelines()
        ]

    def start(self, pipeline: str, config: dict[str, Any], version: int) -> dict[str, Any]:
        """Start a task (its steps run on :meth:`settle`)."""
        return self.engine.service.start(pipeline, config, version=version, actor="cli")

    def advance(self, task_id: str, step: str, value: JSONValue) -> dict[str, Any]:
        """Answer a wait step."""
        return self.engine.service.advance(task_id, step, value, actor="cli")

    def settle(self, task_id: str) -> dict[str, Any]:
        """Run the task's auto steps here until it waits for a person or ends."""
        return self.engine.drive(task_id)

    def cancel(self, task_id: str, reason: str | None) -> dict[str, Any]:
        """Cancel a task."""
        return self.engine.service.view_of(
            self.engine.service.cancel(task_id, actor="cli", reason=reason)
        )

    def retry(self, task_id: str) -> dict[str, Any]:
        """Resume a FAILED task."""
        return self.engine.service.view_of(self.engine.service.retry(task_id, actor="cli"))

    def rerun(self, task_id: str, step: str, input: Any, reason: str | None) -> dict[str, Any]:
        """Rerun a step and its downstream (``input`` may be :data:`UNSET`)."""
        return self.engine.service.rerun(task_id, step, input=input, actor="cli", reason=reason)

    def skip(self, task_id: str, step: str, reason: str | None) -> dict[str, Any]:
        """Skip a FAILED or waiting step."""
        return self.engine.service.skip(task_id, step, actor="cli", reason=reason)

    def history(self, task_id: str, at: int) -> dict[str, Any]:
        """The task right after event ``at``, with the artifacts current then."""
        return self.engine.service.history(task_id, at)

    def fork(self, task_id: str, at: int) -> dict[str, Any]:
        """A new task from this one's state after event ``at``."""
        return self.engine.service.fork(task_id, at, actor="cli")

    def migrate(
        self, task_id: str, version: int, step_map: dict[str, str], reason: str | None
    ) -> dict[str, Any]:
        """Move a task to another version."""
        return self.engine.service.migrate(
            task_id, version, step_map=step_map, actor="cli", reason=reason
        )

    def plan(self, text: str, filename: str) -> dict[str, Any]:
        """Which in-flight tasks could move to this definition's version."""
        return self.engine.service.plan(text, filename)

    def release(self) -> int:
        """Give back the leases of steps running here (before stopping early)."""
        return self.engine.release()

    def list_tasks(self, **filters: Any) -> dict[str, Any]:
        """A page of task views: ``{tasks, next_cursor}``."""
        page = self.engine.service.list_tasks(**filters)
        views = [self.engine.service.view_of(t) for t in page.tasks]
        return {"tasks": views, "next_cursor": page.next_cursor}

    def events(self, task_id: str, after: int = 0) -> list[dict[str, Any]]:
        """The event log as plain JSON."""
        return [e.to_json() for e in self.engine.service.events(task_id, after)]

    def upload(self, data: bytes, filename: str) -> dict[str, Any]:
        """Put a file in the blob store: ``{sha256, size, filename, document}``."""
        sha256 = self.engine.service.put_file(data)
        ref = {"sha256": sha256, "filename": filename}
        return {**ref, "size": len(data), "document": ref}

    def artifact_values(self, task_id: str) -> dict[str, Any]:
        """Current artifact values by step (blobs read back)."""
        return self.engine.service.artifact_values(task_id)

    def search(self, task_id: str, query: str, k: int) -> list[dict[str, Any]]:
        """The sections of a document task closest to ``query``."""
        from segue.docs.search import search

        service = self.engine.service
        status = service.get(task_id).status.value
        return search(service.artifact_values(task_id), service.read_file, query, k, status=status)

    def artifacts(self, task_id: str) -> list[dict[str, Any]]:
        """Current artifacts as plain JSON (blob values are not read)."""
        return [
            {**a.ref(), "value": a.value, "created_at": a.created_at}
            for a in self.engine.service.artifacts(task_id)
        ]


def _registered(spec: PipelineSpec, created: bool) -> dict[str, Any]:
    return {
        "pipeline": spec.name,
        "version": spec.version,
        "hash": spec.content_hash,
        "created": created,
    }


class RemoteTasks:
    """What the commands do, over a server's HTTP API; its workers run the steps."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def view(self, task_id: str) -> dict[str, Any]:
        """The task view (with the server's ``allowed_actions`` and ``can_answer``)."""
        return self.client.get(task_id)

    def register(self, text: str, filename: str) -> dict[str, Any]:
        """Check the definition here (to name the file in errors), then register it there."""
        return self.register_texts([(text, filename)])[0]

    def register_path(self, path: Path) -> list[dict[str, Any]]:
        """Register a file, or a folder's definitions (each checked here before any is sent)."""
        return self.register_texts([(read_definition(f), str(f)) for f in definition_files(path)])

    def register_texts(self, texts: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """Check every ``(text, filename)`` here, then send them one by one."""
        for text, filename in texts:
            load_pipeline(text, filename)
        return [
            self.client.register(
                text, "application/json" if name.endswith(".json") else "application/yaml"
            )
            for text, name in texts
        ]

    def pipelines(self) -> list[dict[str, Any]]:
        """Every registered version the token may see."""
        return self.client.pipelines()

    def start(self, pipeline: str, config: dict[str, Any], version: int) -> dict[str, Any]:
        """Start a task (the server's workers run it)."""
        return self.client.start(pipeline, config, version=version)

    def advance(self, task_id: str, step: str, value: JSONValue) -> dict[str, Any]:
        """Answer a wait step."""
        return self.client.advance(task_id, step, value)

    def cancel(self, task_id: str, reason: str | None) -> dict[str, Any]:
        """Cancel a task."""
        return self.client.cancel(task_id, reason)

    def retry(self, task_id: str) -> dict[str, Any]:
        """Resume a FAILED task."""
        return self.client.retry(task_id)

    def rerun(self, task_id: str, step: str, input: Any, reason: str | None) -> dict[str, Any]:
        """Rerun a step and its downstream on the server."""
        given = {} if input is UNSET else {"input": input}
        return self.client.rerun(task_id, step, reason=reason, **given)

    def skip(self, task_id: str, step: str, reason: str | None) -> dict[str, Any]:
        """Skip a FAILED or waiting step on the server."""
        return self.client.skip(task_id, step, reason)

    def history(self, task_id: str, at: int) -> dict[str, Any]:
        """The task right after event ``at``, rebuilt by the server."""
        return self.client.history(task_id, at)

    def fork(self, task_id: str, at: int) -> dict[str, Any]:
        """A new task on the server from this one's state after event ``at``."""
        return self.client.fork(task_id, at)

    def migrate(
        self, task_id: str, version: int, step_map: dict[str, str], reason: str | None
    ) -> dict[str, Any]:
        """Move a task to another version, on the server."""
        return self.client.migrate(task_id, version, step_map=step_map, reason=reason)

    def plan(self, text: str, filename: str) -> dict[str, Any]:
        """Check the definition here, then ask the server for the plan."""
        load_pipeline(text, filename)
        kind = "application/json" if filename.endswith(".json") else "application/yaml"
        return self.client.plan(text, kind)

    def release(self) -> int:
        """Nothing runs here: the server's workers hold the leases."""
        return 0

    def settle(self, task_id: str) -> dict[str, Any]:
        """Poll until the task waits for a person or ends (or :data:`REMOTE_WAIT_S` passes)."""
        deadline, pause = time.monotonic() + REMOTE_WAIT_S, 0.05
        view = self.client.get(task_id)
        while not settled(view) and time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
            view = self.client.get(task_id)
        return view

    def list_tasks(self, **filters: Any) -> dict[str, Any]:
        """A page of task views: ``{tasks, next_cursor}``."""
        return self.client.list_tasks(**filters)

    def events(self, task_id: str, after: int = 0) -> list[dict[str, Any]]:
        """The event log (every page)."""
        return self.client.events(task_id, after)

    def artifacts(self, task_id: str) -> list[dict[str, Any]]:
        """Current artifacts (references, and values when small)."""
        return self.client.artifacts(task_id)

    def upload(self, data: bytes, filename: str) -> dict[str, Any]:
        """Upload a file to the server: ``{sha256, size, filename, document}``."""
        return self.client.upload(data, filename)

    def artifact_values(self, task_id: str) -> dict[str, Any]:
        """Current artifact values by step (each read from the server)."""
        return {
            a["step"]: self.client.artifact(task_id, a["step"])
            for a in self.client.artifacts(task_id)
        }

    def search(self, task_id: str, query: str, k: int) -> list[dict[str, Any]]:
        """The sections of a document task closest to ``query``."""
        return self.client.search(task_id, query, k)


def definition_files(path: Path) -> list[Path]:
    """The file itself, or every ``*.yaml``/``*.yml``/``*.json`` in a folder."""
    if not path.is_dir():
        return [path]
    return sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
