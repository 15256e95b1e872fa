"""A real ``segue serve`` subprocess for tests: started, waited for, stopped by SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(
    database_url: str,
    *serve_args: str,
    log: Path,
    before: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``segue [--database-url URL, *before] serve --port P *serve_args`` on a free loopback
    port; yields its base URL and the process."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "segue.cli.main",
        "--database-url",
        database_url,
        *before,
        "serve",
        "--port",
        str(port),
        *serve_args,
    ]
    url = f"http://127.0.0.1:{port}"
    with running_server(command, url, cwd=REPO, log=log, env=env) as proc:
        yield url, proc


@contextmanager
def running_server(
    command: list[str], url: str, *, cwd: Path, log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command``, wait until ``url``/healthz answers, and SIGTERM it at the end."""
    with log.open("wb") as sink:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=sink, stderr=sink)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"segue serve exited: {log.read_text()}"
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"segue serve did not start: {log.read_text()}"
            time.sleep(0.05)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
