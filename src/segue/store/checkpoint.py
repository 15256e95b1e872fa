"""WAL checkpoints off the commit path (SQLite files).

In WAL mode a commit appends to ``<database>-wal``; a *checkpoint* copies those
pages back into the database file. By default SQLite runs one inside whichever
``COMMIT`` crosses 1,000 pages of WAL, so that writer (and everyone queued
behind it) waits for the copy and an fsync of the database file. Here the
writers' connections have automatic checkpoints off, and a thread of the
process runs a ``PASSIVE`` checkpoint — which never blocks writers or readers —
shortly after commits have happened.

Durability does not depend on checkpoints: a committed transaction is in the
WAL, fsynced, before ``COMMIT`` returns; a process killed before a checkpoint
leaves a WAL that the next opener replays.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import structlog

log = structlog.get_logger("segue.store")

INTERVAL_S = 0.1
"""At most this often, while commits are happening."""


class Checkpointer:
    """A daemon thread that checkpoints the WAL after commits."""

    def __init__(self, database: Path, *, busy_timeout_ms: int) -> None:
        self._database = database
        self._busy_timeout_ms = busy_timeout_ms
        self._committed = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.checkpoints = 0

    def committed(self) -> None:
        """A commit happened (called by the committer; cheap)."""
        self._committed.set()
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stop.is_set():
                    self._thread = threading.Thread(
                        target=self._run, name="segue-checkpoint", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        conn = sqlite3.connect(self._database, check_same_thread=False, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
            while not self._stop.is_set():
                if self._committed.wait(1.0):
                    self._committed.clear()
                    self._checkpoint(conn)
                    self._stop.wait(INTERVAL_S)
            self._checkpoint(conn)
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.checkpoints += 1
        except sqlite3.Error as exc:  # e.g. the disk is full: commits report it themselves
            log.warning("wal checkpoint failed", error=str(exc))

    def close(self) -> None:
        """Run a last checkpoint and stop the thread."""
        self._stop.set()
        self._committed.set()  # wake it now
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join()
