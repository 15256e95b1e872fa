"""A small OpenAI-compatible chat-completions server on loopback, for the model path.

It is a real HTTP server (the code under test makes real requests); what it
answers is scripted per test: an answer (any JSON, or raw text), a status code,
or a delay. Every request body it received is kept for inspection.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Script:
    """What the server answers next."""

    content: Any = None
    """The message content: a dict/list is sent as JSON text, a str as is."""
    status: int = 200
    delay_s: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


@contextmanager
def fake_llm() -> Iterator[tuple[str, Script]]:
    """Yield ``(base_url, script)`` for a server running on a free loopback port."""
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            script.requests.append(json.loads(self.rfile.read(length)))
            script.headers.append(dict(self.headers))
            time.sleep(script.delay_s)
            content = script.content
            text = content if isinstance(content, str) else json.dumps(content)
            body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}
            payload = json.dumps(body).encode() if self.path.endswith("/chat/completions") else b""
            status = script.status if payload else 404
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
                pass

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", script
    finally:
        server.shutdown()
        server.server_close()
