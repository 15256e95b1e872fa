"""A real deployment in subprocesses: API nodes (`segue serve --workers 0`) and workers
(`segue worker`) on one PostgreSQL database, and an HTTP driver that pushes
doc-shaped tasks through them."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import REPO

DOC_SHAPED = """
pipeline: cluster_doc
version: 1
steps:
  - {id: upload, type: auto, depends_on: [], run: "segue.builtins:passthrough"}
  - {id: abstract, type: auto, run: "segue.builtins:passthrough"}
  - id: directory_confirm
    type: wait_user
    prefill: "artifacts.abstract"
    input_schema: {type: object, required: [directory], properties: {directory: {type: array}}}
  - {id: directory_parse, type: auto, run: "segue.builtins:passthrough"}
  - {id: embed, type: auto, run: "segue.builtins:passthrough"}
"""
ANSWER = {"directory": [{"title": "Intro", "level": 1}]}


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEGUE_")}
    return {**env, "PYTHONPATH": str(REPO)}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    """API nodes and workers, as subprocesses, with their logs in ``folder``."""

    url: str
    folder: Path
    lease_s: float = 3.0
    apis: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.folder / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "segue", *args],
                cwd=self.folder,
                env=environment(),
                stdout=log,
                stderr=log,
            )
        self.processes.append(proc)
        return proc

    def start_api(self) -> str:
        port = free_port()
        pipeline = self.folder / "cluster_doc.yaml"
        pipeline.write_text(DOC_SHAPED)
        self._spawn(
            f"api-{port}",
            "serve",
            "--database-url",
            self.url,
            "--workers",
            "0",
            "--port",
            str(port),
            "--no-built-ins",
            "--pipelines",
            str(pipeline),
        )
        base = f"http://127.0.0.1:{port}"
        self.apis.append(base)
        return base

    def start_worker(self) -> subprocess.Popen[bytes]:
        proc = self._spawn(
            f"worker-{len(self.workers)}",
            "worker",
            "--database-url",
            self.url,
            "--concurrency",
            "4",
            "--lease-s",
            str(self.lease_s),
            "--poll-s",
            "0.5",
        )
        self.workers.append(proc)
        return proc

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        for base in self.apis:
            while True:
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, self.logs()
                time.sleep(0.1)
        for base in self.apis:  # the pipeline is registered by every node
            while httpx.get(f"{base}/pipelines/cluster_doc", timeout=2).status_code != 200:
                assert time.monotonic() < deadline, self.logs()
                time.sleep(0.1)

    def kill_worker(self, index: int) -> None:
        self.workers[index].send_signal(signal.SIGKILL)
        self.workers[index].wait()

    def logs(self) -> str:
        return "\n".join(f"== {p.name}\n{p.read_text()[-3000:]}" for p in self.folder.glob("*.log"))

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class Driver:
    """Starts tasks and answers their wait steps through the API nodes, picked at random.

    Every request carries an Idempotency-Key, so one answered 503 is sent again
    safely; ``statuses`` counts every response, and ``acknowledged`` keeps what
    a node confirmed (task ids started, tasks whose answer was accepted).
    """

    apis: list[str]
    seed: int = 7
    statuses: Counter[int] = field(default_factory=Counter)
    retry_after: set[str] = field(default_factory=set)
    started: list[str] = field(default_factory=list)
    answered: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)
        self.clients = [httpx.Client(base_url=base, timeout=30) for base in self.apis]

    def request(self, method: str, path: str, body: Any = None, timeout: float = 90) -> Any:
        key = uuid.uuid4().hex
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                client = self.random.choice(self.clients)
            response = client.request(method, path, json=body, headers={"Idempotency-Key": key})
            with self.lock:
                self.statuses[response.status_code] += 1
            if response.status_code == 503:
                self.retry_after.add(response.headers.get("Retry-After", ""))
                assert time.monotonic() < deadline, response.text
                time.sleep(0.2)
                continue
            assert response.status_code < 500, response.text
            return response

    def start(self, count: int) -> None:
        for _ in range(count):
            response = self.request("POST", "/tasks", {"pipeline": "cluster_doc"})
            assert response.status_code == 201, response.text
            self.started.append(response.json()["id"])

    def finish(self, timeout: float = 120) -> None:
        """Answer every wait step, until every task has completed."""
        pending = set(self.started)
        deadline = time.monotonic() + timeout
        while pending:
            assert time.monotonic() < deadline, f"{len(pending)} tasks did not finish"
            for task in sorted(pending):
                view = self.request("GET", f"/tasks/{task}").json()
                if view["status"] == "COMPLETED":
                    pending.discard(task)
                elif view["status"] == "WAITING_USER" and task not in self.answered:
                    step = view["current_step"]
                    body = {"step": step, "input": ANSWER}
                    response = self.request("POST", f"/tasks/{task}/advance", body)
                    assert response.status_code == 200, response.text
                    self.answered.add(task)
                else:
                    assert view["status"] in ("RUNNING", "WAITING_USER"), view
            time.sleep(0.05)

    def close(self) -> None:
        for client in self.clients:
            client.close()
