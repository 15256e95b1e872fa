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

A writer whose work was done beforehand (a speculative run's replay, see
:mod:`segue.store.speculative`) does not need its own turn: it queues the
replay, and whichever thread holds the connection runs it inside its group,
before it hands over or commits. Those replays add no thread switch to the
time a group holds the database.

Between processes on one database file, an open group also holds an exclusive
lock on a file beside it (``<database>-writer.lock``): a writer of another
process blocks on it and wakes the moment the group commits, instead of
SQLite's busy handler, which sleeps and polls (1 ms, 2 ms, 5 ms ... 100 ms).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Generic, TypeVar

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


T = TypeVar("T")


class _Ready(Generic[T]):
    """A replay waiting for a thread that holds the connection to run it."""

    __slots__ = ("done", "error", "group", "result", "work")

    def __init__(self, work: Callable[[Connection, dict[str, Any]], T]) -> None:
        self.work = work
        self.done = threading.Event()
        """Set once the group carrying it is committed or abandoned, or ``work`` raised."""
        self.result: T | None = None
        self.error: BaseException | None = None
        self.group: _Group | None = None


class _Group:
    """One open transaction and the writers whose work it carries."""

    __slots__ = ("done", "failure", "members", "ready", "transaction", "written")

    def __init__(self, transaction: RootTransaction) -> None:
        self.transaction = transaction
        self.done = threading.Event()
        self.failure: BaseException | None = None
        self.members = 0
        self.ready: list[_Ready[Any]] = []
        """The queued replays it carries (told when it is done)."""
        self.written: dict[str, Any] = {}
        """What the members wrote, by task id (for later members, then the state cache)."""

    def end(self) -> None:
        """Tell every member the group is committed, or abandoned (``failure``)."""
        self.done.set()
        for ready in self.ready:
            ready.done.set()


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
        self._ready: deque[_Ready[Any]] = deque()
        """Replays waiting to be run by whichever thread holds ``_lock``."""
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
            yield from self._member()
        finally:
            self._drain()

    def _member(self) -> Iterator[tuple[Connection, dict[str, Any]]]:
        try:
            group = self._open()
        except BaseException:
            self._let_go()
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

    def replay(self, work: Callable[[Connection, dict[str, Any]], T]) -> T:
        """Have ``work(connection, written)`` run inside a group, by this thread or by
        whichever thread holds the connection; returns its result once the commit carrying
        it is durable. ``work`` must be self-contained (it runs in another thread)."""  # noqa: D205,D209
        if self._owner == threading.get_ident():
            raise RuntimeError("a store transaction cannot open another one in the same thread")
        ready = _Ready(work)
        with self._count:
            self._ready.append(ready)
        self._drain()
        ready.done.wait()
        if ready.error is not None:
            raise ready.error
        assert ready.group is not None
        if ready.group.failure is not None:
            raise StoreUnavailable(
                f"The database refused the operation: {ready.group.failure}."
            ) from ready.group.failure
        return ready.result  # type: ignore[return-value]

    def _hold(self) -> None:
        """Run the queued replays in a group, finish it and let go (``_lock`` was just taken
        for them)."""  # noqa: D205,D209
        try:
            group = self._open()
        except BaseException as exc:
            with self._count:
                waiting = list(self._ready)
                self._ready.clear()
            for ready in waiting:
                ready.error = exc
                ready.done.set()
            self._let_go()
            return
        self._serve(group)
        if not group.members:  # every replay raised: nothing to commit
            self._abandon(group, None)
            return
        # A failed commit is told to its members (group.failure); this thread, which may
        # have come only to drain the queue, goes on.
        with suppress(Exception):
            self._finish(group, wait=False)

    def _serve(self, group: _Group) -> None:
        """Run queued replays in ``group``, each in its own savepoint, while it has room."""
        conn = group.transaction.connection
        while self._ready and group.members < self._max_group:
            with self._count:
                if not self._ready:
                    return
                ready = self._ready.popleft()
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute("SAVEPOINT segue_writer")
                try:
                    ready.result = ready.work(conn, group.written)
                except BaseException:
                    cursor.execute("ROLLBACK TO segue_writer")
                    cursor.execute("RELEASE segue_writer")
                    raise
                cursor.execute("RELEASE segue_writer")
            except BaseException as exc:  # only this replay is lost (nothing of it written)
                ready.error = exc
                ready.done.set()
                if conn.invalidated:
                    return
                continue
            finally:
                cursor.close()
            ready.group = group
            group.ready.append(ready)
            group.members += 1

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
        if self._ready and not group.transaction.connection.invalidated:
            self._serve(group)
        with self._count:
            hand_over = self._queued > 0 and group.members < self._max_group
        if hand_over:
            self._let_go()
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
        group.end()
        self._let_go()
        return False

    def _abandon(self, group: _Group, exc: BaseException | None) -> None:
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
        group.end()
        self._let_go()

    def _drop_if_broken(self) -> None:
        if self._conn is not None and self._conn.invalidated:
            self._conn = None

    def _let_go(self) -> None:
        self._owner = None
        self._lock.release()

    def _drain(self) -> None:
        """Run the replays queued since the last holder looked, unless another thread holds
        the connection (then it runs them). Every writer calls this once it has let go, so
        no replay waits for the next writer."""  # noqa: D205,D209
        while self._ready and self._lock.acquire(blocking=False):
            self._owner = threading.get_ident()
            self._hold()

    def close(self) -> None:
        """Close the connection (after the writer in progress, if any)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None
