"""The process executor: a step's handler in a child process that can be killed.

A thread cannot be stopped from outside, so a hung sync handler on the thread
executor keeps its thread until it returns. With ``executor: process`` the
handler runs in a child process (forked from a ``forkserver``, so starting one
costs milliseconds, not an interpreter start-up); the supervising thread waits
for its answer and kills it — SIGKILL — the moment the run times out or is
cancelled. The child gets the same :class:`~segue.runtime.context.StepContext`
except that its ``cancelled`` flag is never set (it is killed instead), and its
blob store is the engine's blob folder.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import traceback
from dataclasses import dataclass, fields
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from segue.errors import PermanentError
from segue.runtime.context import StepContext
from segue.runtime.handlers import HandlerRegistry
from segue.settings import ENV_PREFIX

POLL_S = 0.05
_LOCAL = frozenset({"blobs", "cancelled", "log"})
"""Context fields that stay in the parent (the child gets its own)."""
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["segue.runtime.processes", "segue.runtime.worker"])


class ChildFailed(Exception):
    """The handler raised in its child process; ``kind`` is its exception's class name."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class ChildKilled(Exception):
    """The child process was killed: the run timed out or was cancelled."""


class ChildDied(Exception):
    """The child process ended without an answer (it crashed or ran out of memory)."""


@dataclass(frozen=True, slots=True)
class FolderBlobs:
    """The blob folder, for a child process (the store itself stays in the parent)."""

    root: Path

    def put_blob(self, data: bytes) -> str:
        """Store bytes; returns their sha256."""
        from segue.store.blobs import BlobStore

        return BlobStore(self.root).put(data)

    def read_blob(self, sha256: str) -> bytes:
        """Read stored bytes back."""
        from segue.store.blobs import BlobStore

        return BlobStore(self.root).get(sha256)


def run_in_child(ref: str, context: StepContext, blob_root: Path | None) -> Any:
    """Run the handler ``ref`` in a child process and return its output.

    Raises:
        PermanentError: the handler raised one.
        ChildFailed: the handler raised anything else.
        ChildKilled: ``context.cancelled`` was set; the child was killed.
        ChildDied: the child ended without answering.
    """
    sent = {f.name: getattr(context, f.name) for f in fields(context) if f.name not in _LOCAL}
    parent, child = _CONTEXT.Pipe(duplex=False)
    env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}
    process = _CONTEXT.Process(target=_child, args=(ref, sent, blob_root, env, child), daemon=True)
    process.start()
    child.close()
    try:
        while not parent.poll(POLL_S):
            if context.cancelled.is_set():
                process.kill()
                process.join()
                raise ChildKilled(f"the child process {process.pid} was killed")
            if not process.is_alive() and not parent.poll(0):
                raise ChildDied(f"the child process ended with exit code {process.exitcode}")
        answer = parent.recv()
    finally:
        parent.close()
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join()
    return _unpack(answer)


def _unpack(answer: tuple[str, Any, Any]) -> Any:
    status, first, second = answer
    if status == "ok":
        return first
    if status == "permanent":
        raise PermanentError(second)
    raise ChildFailed(first, second)


def _child(
    ref: str, sent: dict[str, Any], blob_root: Path | None, env: dict[str, str], conn: Connection
) -> None:
    """In the child: resolve and call the handler, send back its output or its error.

    The forkserver started with the environment of its first use; the
    ``SEGUE_*`` variables are the parent's as they are now.
    """
    from segue.runtime.worker import call_handler

    for key in [k for k in os.environ if k.startswith(ENV_PREFIX)]:
        del os.environ[key]
    os.environ.update(env)
    try:
        blobs = FolderBlobs(blob_root) if blob_root else None
        context = StepContext(**sent, blobs=blobs, cancelled=threading.Event())
        handler = HandlerRegistry().resolve(ref)
        conn.send(("ok", call_handler(handler, context), None))
    except PermanentError as exc:
        conn.send(("permanent", type(exc).__name__, str(exc)))
    except BaseException as exc:
        traceback.print_exc()
        conn.send(("error", type(exc).__name__, str(exc) or type(exc).__name__))
    finally:
        conn.close()
