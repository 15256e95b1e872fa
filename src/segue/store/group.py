"""Group commit: concurrent writers of one process share a durable commit.

SQLite has one writer at a time, and each ``COMMIT`` at ``synchronous=FULL`` is
an fsync. Writers of one process queue on a lock and share one connection;
when a writer's work is done and others are already queued, it does not
commit: it hands the open transaction to the next writer and waits. The last
writer in line (or the one that fills the group) commits for everyone, once.

Each writer's work runs inside its own ``SAVEPOINT``, so a writer that fails
undoes only its own changes. Readers on other connections see nothing of a
group until its commit, then all of it: each writer's change stays one atomic
unit for them. No writer returns before the commit that carries its work is
durable; if that commit fails, every writer of the group gets the error and
none of their changes exist.

Between processes on one database file, an open group also holds an exclusive
lock on a file beside it (``<database>-writer.lock``): a writer of another
process blocks on it and wakes the moment the group commits, instead of
SQLite's busy handler, which sleeps and polls (1 ms, 2 ms, 5 ms ... 100 ms).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection, RootTransaction

from segue.errors import StoreUnavailable

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]

MAX_GROUP = 64
"""Writers per commit at most (bounds how long the first one waits)."""
CONTENDED_S = 1.0
"""How long after another process last held up a writer it still counts as contending."""


class _Group:
    """One open transaction and the writers whose work it carries."""

    __slots__ = ("done", "failure", "members", "transaction", "written")

    def __init__(self, transaction: RootTransaction) -> None:
        self.transaction = transaction
        self.done = threading.Event()
        self.failure: BaseException | None = None
        self.members = 0
        self.written: dict[str, Any] = {}
        """What the members wrote, by task id (for later members, then the state cache)."""


class GroupCommitter:
    """Runs writers one at a time on one connection, committing them in groups."""

    def __init__(
        self,
        connect: Callable[[], Connection],
        on_commit: Callable[[dict[str, Any]], None],
        lock_file: Path | None = None,
        *,
        max_group: int = MAX_GROUP,
    ) -> None:
        self._max_group = max_group
        self._connect = connect
        self._on_commit = on_commit
        self._lock_file = lock_file
        self._lock_fd: int | None = None
        self._lock = threading.Lock()
        """Held by the one writer running its work (or committing)."""
        self._count = threading.Lock()
        self._queued = 0
        """Writers waiting for ``_lock``: while there are any, a finished writer hands over."""
        self._owner: int | None = None
        self._conn: Connection | None = None
        self._group: _Group | None = None
        self.commits = 0
        self.writers = 0
        self._contended_until = 0.0

    @contextmanager
    def member(self) -> Iterator[tuple[Connection, dict[str, Any]]]:
        """Run one writer's work; returns once a commit carrying it is durable.

        Yields the connection and the states earlier members of the same group
        wrote (uncommitted, but visible on this connection).
        """
        if self._owner == threading.get_ident():
            raise RuntimeError("a store transaction cannot open another one in the same thread")
        with self._count:
            self._queued += 1
        self._lock.acquire()
        with self._count:
            self._queued -= 1
        self._owner = threading.get_ident()
        try:
            group = self._open()
        except BaseException:
            self._release()
            raise
        conn = group.transaction.connection
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute("SAVEPOINT segue_writer")
            try:
                yield conn, group.written
            except BaseException:
                cursor.execute("ROLLBACK TO segue_writer")
                cursor.execute("RELEASE segue_writer")
                raise
            cursor.execute("RELEASE segue_writer")
        except BaseException as exc:
            if group.members and not conn.invalidated:
                self._finish(group, wait=False)  # the others' work still commits
            else:
                self._abandon(group, exc)
            raise
        finally:
            cursor.close()
        group.members += 1
        if self._finish(group, wait=True) and group.failure is not None:
            raise StoreUnavailable(
                f"The database refused the operation: {group.failure}."
            ) from group.failure

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Keep writers out (no group is open meanwhile); a no-op inside this thread's
        own transaction."""  # noqa: D205,D209
        if self._owner == threading.get_ident():
            yield
            return
        with self._lock:
            yield

    def _open(self) -> _Group:
        if self._group is None:
            self._lock_processes()
            try:
                if self._conn is None or self._conn.invalidated:
                    self._conn = self._connect()
                self._group = _Group(self._conn.begin())
            except BaseException:
                self._unlock_processes()
                raise
        return self._group

    def _lock_processes(self) -> None:
        if self._lock_file is None or fcntl is None:
            return
        if self._lock_fd is None:
            self._lock_fd = os.open(self._lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another process writes: wait for it
            self._contended_until = time.monotonic() + CONTENDED_S
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)  # releases the GIL while it waits

    def contended(self) -> bool:
        """Whether another process held up one of this process's writers lately."""
        return time.monotonic() < self._contended_until

    def _unlock_processes(self) -> None:
        if self._lock_fd is not None and fcntl is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _finish(self, group: _Group, *, wait: bool) -> bool:
        """Hand the open group to the next writer in line, or commit it.

        Returns True when another writer committed it (this one waited, if asked).
        """
        with self._count:
            hand_over = self._queued > 0 and group.members < self._max_group
        if hand_over:
            self._release()
            if wait:
                group.done.wait()
            return True
        self._group = None
        try:
            group.transaction.commit()
        except BaseException as exc:
            self._abandon(group, exc)  # a failed COMMIT can leave the transaction open
            raise
        self._unlock_processes()
        self.commits += 1
        self.writers += group.members
        self._on_commit(group.written)
        group.done.set()
        self._release()
        return False

    def _abandon(self, group: _Group, exc: BaseException) -> None:
        """Roll the group back: its only member failed, its commit failed, or the
        connection broke. Every waiting member is told."""  # noqa: D205,D209
        self._group = None
        group.failure = exc
        try:
            group.transaction.rollback()
            # After a failed COMMIT, SQLite keeps the transaction open; SQLAlchemy
            # only forgets it.
            group.transaction.connection.connection.dbapi_connection.rollback()  # type: ignore[union-attr]
        except Exception:  # the connection is gone: so is the transaction
            pass
        self._drop_if_broken()
        self._unlock_processes()
        group.done.set()
        self._release()

    def _drop_if_broken(self) -> None:
        if self._conn is not None and self._conn.invalidated:
            self._conn = None

    def _release(self) -> None:
        self._owner = None
        self._lock.release()

    def close(self) -> None:
        """Close the connection (after the writer in progress, if any)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None
