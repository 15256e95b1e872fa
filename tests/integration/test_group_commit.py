"""Group commit on SQLite: queued writers of a process share one durable commit."""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from segue import Segue
from segue.errors import StoreUnavailable
from segue.store import SqlStore
from segue.store.tx import SqlTx

WRITERS = 8


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "group.db"


@pytest.fixture
def store(db: Path, tmp_path: Path) -> Iterator[SqlStore]:
    with Segue(f"sqlite:///{db}", blob_dir=tmp_path / "blobs") as engine:
        store = engine.store
        assert isinstance(store, SqlStore)
        with store.transaction() as tx:
            tx.conn.exec_driver_sql("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
            tx.conn.exec_driver_sql(
                "CREATE TABLE child (n INTEGER PRIMARY KEY, parent INTEGER "
                "REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
            )
        yield store


def insert(tx: SqlTx, n: int, parent: int | None = None) -> None:
    tx.conn.exec_driver_sql("INSERT INTO child (n, parent) VALUES (?, ?)", (n, parent))


def rows(db: Path) -> set[int]:
    """What another connection sees: only committed work."""
    with sqlite3.connect(db) as conn:
        return {n for (n,) in conn.execute("SELECT n FROM child")}


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.001)


def run_group(store: SqlStore, body: Callable[[SqlTx, int], None]) -> dict[int, BaseException]:
    """Writer 0 holds the writer lock until the others queue behind it, so all
    ``WRITERS`` of them land in one group; returns the errors by writer."""
    errors: dict[int, BaseException] = {}
    inside = threading.Event()
    group = store._group

    def writer(i: int) -> None:
        try:
            with store.transaction() as tx:
                body(tx, i)
                if i == 0:
                    inside.set()
                    wait_for(lambda: group._queued == WRITERS - 1)
        except BaseException as exc:
            errors[i] = exc

    behind_the_first(lambda: writer(0), inside, writer)
    return errors


def behind_the_first(
    first: Callable[[], None], inside: threading.Event, other: Callable[[int], None]
) -> None:
    """Run ``first`` in a thread; once it sets ``inside``, ``other(i)`` for every other
    writer, each in its own thread; wait for them all."""
    threads = [threading.Thread(target=first)]
    threads[0].start()
    inside.wait(30)
    threads += [threading.Thread(target=other, args=(i,)) for i in range(1, WRITERS)]
    for thread in threads[1:]:
        thread.start()
    for thread in threads:
        thread.join(30)


def test_queued_writers_share_one_commit(store: SqlStore, db: Path) -> None:
    commits = store._group.commits
    errors = run_group(store, lambda tx, i: insert(tx, i))
    assert errors == {}
    assert store._group.commits == commits + 1
    assert rows(db) == set(range(WRITERS))


def test_a_failing_writer_undoes_only_its_own_work(store: SqlStore, db: Path) -> None:
    def body(tx: SqlTx, i: int) -> None:
        insert(tx, i)
        if i == 3:
            raise ValueError("writer 3 changed its mind")

    errors = run_group(store, body)
    assert list(errors) == [3] and isinstance(errors[3], ValueError)
    assert rows(db) == set(range(WRITERS)) - {3}


def test_a_failed_commit_fails_every_writer_of_the_group(store: SqlStore, db: Path) -> None:
    # Writer 5 breaks a deferred foreign key: nothing fails until COMMIT itself.
    errors = run_group(store, lambda tx, i: insert(tx, i, parent=999 if i == 5 else None))
    assert set(errors) == set(range(WRITERS))
    assert all(isinstance(e, StoreUnavailable) for e in errors.values())
    assert "FOREIGN KEY" in str(errors[0])
    assert rows(db) == set()
    # The store goes on: the next writer commits on its own.
    with store.transaction() as tx:
        insert(tx, 100)
    assert rows(db) == {100}


def replays_behind_a_writer(
    store: SqlStore, work: Callable[[int], Callable[[Any, dict[str, Any]], Any]]
) -> tuple[dict[int, Any], dict[int, BaseException], set[int]]:
    """Writer 0 holds the connection while ``WRITERS - 1`` threads queue replays
    (``work(i)``); returns their results, their errors, and the threads replays ran in."""
    group = store._group
    inside, results, errors, ran_in = threading.Event(), {}, {}, set()

    def holder() -> None:
        try:
            with store.transaction() as tx:
                insert(tx, 0)
                inside.set()
                wait_for(lambda: len(group._ready) == WRITERS - 1)
        except BaseException as exc:
            errors[0] = exc

    def replayer(i: int) -> None:
        def job(conn: Any, written: dict[str, Any]) -> Any:
            ran_in.add(threading.get_ident())
            return work(i)(conn, written)

        try:
            results[i] = group.replay(job)
        except BaseException as exc:
            errors[i] = exc

    behind_the_first(holder, inside, replayer)
    return results, errors, ran_in


def test_queued_replays_run_in_the_holders_group_and_commit_with_it(
    store: SqlStore, db: Path
) -> None:
    commits = store._group.commits

    def work(i: int) -> Callable[[Any, dict[str, Any]], Any]:
        def run(conn: Any, written: dict[str, Any]) -> int:
            conn.exec_driver_sql("INSERT INTO child (n) VALUES (?)", (i,))
            return i * 10

        return run

    results, errors, ran_in = replays_behind_a_writer(store, work)
    assert errors == {}
    assert results == {i: i * 10 for i in range(1, WRITERS)}
    assert len(ran_in) == 1  # one thread ran them all: no hand-over between them
    assert store._group.commits == commits + 1
    assert rows(db) == set(range(WRITERS))


def test_a_failing_replay_loses_only_its_own_work(store: SqlStore, db: Path) -> None:
    def work(i: int) -> Callable[[Any, dict[str, Any]], Any]:
        def run(conn: Any, written: dict[str, Any]) -> None:
            conn.exec_driver_sql("INSERT INTO child (n) VALUES (?)", (i,))
            if i == 4:
                raise ValueError("replay 4 found a conflict")

        return run

    _, errors, _ = replays_behind_a_writer(store, work)
    assert list(errors) == [4] and isinstance(errors[4], ValueError)
    assert rows(db) == set(range(WRITERS)) - {4}


def test_a_failed_commit_fails_every_replay_of_the_group(store: SqlStore, db: Path) -> None:
    def work(i: int) -> Callable[[Any, dict[str, Any]], Any]:
        def run(conn: Any, written: dict[str, Any]) -> None:
            parent = 999 if i == 5 else None  # a deferred foreign key: fails at COMMIT
            conn.exec_driver_sql("INSERT INTO child (n, parent) VALUES (?, ?)", (i, parent))

        return run

    _, errors, _ = replays_behind_a_writer(store, work)
    assert set(errors) == set(range(WRITERS))
    assert all(isinstance(e, StoreUnavailable) for e in errors.values())
    assert rows(db) == set()
    with pytest.raises(StoreUnavailable, match="FOREIGN KEY"):  # alone, drained by itself
        store._group.replay(work(5))
    assert store._group.replay(work(100)) is None  # the store goes on
    assert rows(db) == {100}


def test_a_replay_queued_while_nobody_holds_the_connection_runs_at_once(
    store: SqlStore, db: Path
) -> None:
    def run(conn: Any, written: dict[str, Any]) -> str:
        conn.exec_driver_sql("INSERT INTO child (n) VALUES (7)")
        return "done"

    assert store._group.replay(run) == "done"
    assert rows(db) == {7}


def test_a_transaction_cannot_open_another_in_its_thread(store: SqlStore) -> None:
    outer = store.transaction()
    with outer, pytest.raises(RuntimeError, match="same thread"), store.transaction():
        pass


def test_a_writer_closes_its_cursor_before_the_connection_moves_on(store: SqlStore) -> None:
    """Writers share one connection. A cursor left to be finalized whenever its owner drops
    it would reset a statement another thread's writer may be running on that connection
    (seen as a rare "bad parameter or other API misuse"): every writer's cursor is closed
    before its transaction ends, whether its work succeeded or failed."""
    with store.transaction() as done:
        insert(done, 1)
    with pytest.raises(RuntimeError), store.transaction() as failed:
        insert(failed, 2)
        raise RuntimeError("the writer's own failure")
    for tx in (done, failed):
        with pytest.raises(sqlite3.ProgrammingError, match="closed cursor"):
            tx.cursor.execute("SELECT 1")


def test_the_wal_is_checkpointed_by_a_thread_not_by_commits(
    store: SqlStore, db: Path, tmp_path: Path
) -> None:
    checkpointer = store._checkpointer
    assert checkpointer is not None
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    for n in range(200):
        with store.transaction() as tx:
            insert(tx, n)

    def in_the_database_file() -> set[int]:
        """The rows the main file holds by itself (a copy of it, without the WAL)."""
        copy = tmp_path / "copy.db"
        shutil.copyfile(db, copy)
        try:
            return rows(copy)
        except sqlite3.OperationalError:  # not even the table yet
            return set()

    wait_for(lambda: in_the_database_file() == set(range(200)))
    assert checkpointer.checkpoints > 0


def test_an_open_group_holds_the_file_lock_other_processes_wait_on(
    store: SqlStore, db: Path
) -> None:
    """Another process's writer blocks on ``<db>-writer.lock`` while a group is open."""
    lock_file = Path(f"{db}-writer.lock")

    def free() -> bool:
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # locks of another open file
        except BlockingIOError:
            return False
        finally:
            os.close(fd)  # closing drops a lock taken here
        return True

    with store.transaction() as tx:
        insert(tx, 1)
        assert not free()
    assert free()
