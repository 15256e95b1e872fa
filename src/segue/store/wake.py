"""Wake-ups between the processes that share one SQLite file, as PostgreSQL's NOTIFY does.

A process that listens (a worker waiting for work) binds a datagram socket in a
folder beside the database (``<database>-wake/``). A process that commits work
another one may take (a start or an answer queues a step run) sends one byte to
every socket there, without waiting; the listener's thread wakes and calls back.
A socket left behind by a killed process refuses the byte and is removed. Nothing
depends on a wake-up arriving: listeners still poll, wake-ups only make them
see new work at once instead of at their next poll.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import structlog

log = structlog.get_logger("segue.wake")

RELIST_S = 1.0
"""Looked for listeners at least this often, whatever the folder's time says (it moves in
coarse ticks, so a socket bound just after a listing may not change it)."""
MAX_SOCKET_PATH = 107
"""Unix socket paths are limited to 107 bytes (Linux): longer folders go to the temp dir."""
SOCKET_NAME = 26
"""Bytes of ``/<pid>-<8 hex>.sock`` at most."""


def wake_folder(database: str) -> Path:
    """Where the listeners of ``database`` bind: beside its real path (however a process
    spells it: relative, through a symlink), or, when that is too long for a socket,
    ``segue-wake-<hash of the real path>`` in the temporary folder."""  # noqa: D205,D209
    real = os.path.realpath(database)
    beside = Path(real + "-wake")
    if len(os.fsencode(beside)) + SOCKET_NAME <= MAX_SOCKET_PATH:
        return beside
    digest = hashlib.sha256(os.fsencode(real)).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"segue-wake-{digest}"


class WakeFolder:
    """Listening and notifying through the sockets of one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._sender: socket.socket | None = None
        """Made at the first wake-up sent: a store that never sends holds no socket."""
        self._targets: list[str] = []
        self._listed: tuple[int, float] | None = None
        """The folder's modification time when it was last listed (a socket bound or
        removed there changes it), and when that was."""
        self._own: set[str] = set()
        self._lock = threading.Lock()

    def listen(self, callback: Callable[[], object]) -> Listening | None:
        """Call ``callback()`` (in a thread of its own) whenever another process notifies;
        None when this process cannot listen here (then it finds work by polling)."""  # noqa: D205,D209
        try:
            listening = Listening(self, callback)
        except OSError as exc:  # a file in the folder's place, another user's folder, …
            log.warning(
                "no wake-ups from other processes; polling instead",
                folder=str(self.folder),
                error=str(exc),
            )
            return None
        self._own.add(listening.path)
        return listening

    def notify(self) -> None:
        """Wake every listener of the other processes (never blocks; best effort)."""
        with self._lock:
            try:
                changed = os.stat(self.folder).st_mtime_ns
            except OSError:  # nobody has listened yet
                return
            now = time.monotonic()
            if self._listed is None or self._listed[0] != changed or now > self._listed[1]:
                self._listed = (changed, now + RELIST_S)
                self._targets = self._listeners()
            if not self._targets:
                return
            if self._sender is None:
                self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sender.setblocking(False)
            for path in list(self._targets):
                try:
                    self._sender.sendto(b"!", path)
                except BlockingIOError:  # its queue is full: it has wake-ups waiting already
                    pass
                except (ConnectionRefusedError, FileNotFoundError):  # its process is gone
                    self._targets.remove(path)
                    with contextlib.suppress(OSError):
                        os.unlink(path)
                except OSError:  # not ours to reach (permissions, …): it polls anyway
                    pass

    def _listeners(self) -> list[str]:
        try:
            names = os.listdir(self.folder)
        except OSError:
            return []
        paths = (os.path.join(self.folder, n) for n in names if n.endswith(".sock"))
        return [p for p in paths if p not in self._own]

    def close(self) -> None:
        """Stop sending (listeners close on their own)."""
        if self._sender is not None:
            self._sender.close()


class Listening:
    """One bound socket and the thread that waits on it."""

    def __init__(self, folder: WakeFolder, callback: Callable[[], object]) -> None:
        folder.folder.mkdir(parents=True, exist_ok=True)
        self.path = os.path.join(folder.folder, f"{os.getpid()}-{secrets.token_hex(4)}.sock")
        self._folder = folder
        self._callback = callback
        self._closed = False
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self._socket.bind(self.path)
        except BaseException:
            self._socket.close()
            raise
        self._thread = threading.Thread(target=self._run, name="segue-wake", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                self._socket.recv(16)
                while True:  # one call back for every wake-up already queued
                    self._socket.recv(16, socket.MSG_DONTWAIT)
            except BlockingIOError:
                pass
            except OSError:
                return
            if self._closed:
                return
            self._callback()

    def close(self) -> None:
        """Stop listening: remove the socket, end the thread."""
        if self._closed:
            return
        self._closed = True
        self._folder._own.discard(self.path)
        with (  # wake our own thread so it sees it is closed
            contextlib.suppress(OSError),
            socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as waker,
        ):
            waker.sendto(b"!", self.path)
        self._thread.join(timeout=5)
        self._socket.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
