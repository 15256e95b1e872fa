"""Wake-ups between processes on one SQLite file: a commit that queues work wakes the
workers of other processes at once, instead of at their next poll."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from segue import Segue
from segue.store import SqlStore
from segue.store.wake import MAX_SOCKET_PATH, wake_folder

ONE_STEP = """
pipeline: woken
version: 1
steps:
  - {id: only, type: auto, depends_on: [], run: "segue.builtins:passthrough"}
"""


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_a_start_in_one_process_wakes_a_listener_of_another(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with Segue(url) as here, Segue(url) as there:  # two stores: two processes' worth
        here.register(ONE_STEP)
        woken = threading.Event()
        there.service.on_change(woken.set)
        assert not woken.is_set()
        here.start("woken", run=False)
        assert woken.wait(30)


def test_a_socket_left_by_a_killed_process_is_removed(tmp_path: Path) -> None:
    database = tmp_path / "w.db"
    with Segue(f"sqlite:///{database}") as engine:
        engine.register(ONE_STEP)
        folder = wake_folder(str(database))
        folder.mkdir(parents=True, exist_ok=True)
        stale = folder / "999999-dead.sock"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as gone:
            gone.bind(str(stale))  # bound, then closed: what a SIGKILL leaves
        assert stale.exists()
        engine.start("woken", run=False)
        assert not stale.exists()


def test_a_long_database_path_listens_in_the_temp_folder(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    database = deep / "w.db"
    folder = wake_folder(str(database))
    assert len(os.fsencode(str(deep))) > MAX_SOCKET_PATH
    assert not str(folder).startswith(str(deep))
    with Segue(f"sqlite:///{database}") as here, Segue(f"sqlite:///{database}") as there:
        here.register(ONE_STEP)
        woken = threading.Event()
        there.service.on_change(woken.set)
        here.start("woken", run=False)
        assert woken.wait(30)


def test_closing_the_store_removes_its_socket(tmp_path: Path) -> None:
    database = tmp_path / "w.db"
    with Segue(f"sqlite:///{database}") as engine:
        engine.service.on_change(lambda: None)
        store = engine.store
        assert isinstance(store, SqlStore)
        folder = wake_folder(str(database))
        assert len(list(folder.glob("*.sock"))) == 1
    assert list(folder.glob("*.sock")) == []


def test_a_folder_it_cannot_use_means_polling_not_a_failure(tmp_path: Path) -> None:
    database = tmp_path / "w.db"
    wake_folder(str(database)).write_text("a file where the folder should be")
    with Segue(f"sqlite:///{database}") as engine:
        engine.register(ONE_STEP)
        engine.service.on_change(lambda: None)  # would listen: it warns and polls instead
        assert engine.start("woken")["status"] == "COMPLETED"


def test_a_relative_and_an_absolute_spelling_share_one_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = tmp_path / ("d" * 40)
    deep.mkdir()
    monkeypatch.chdir(deep)
    assert wake_folder("w.db") == wake_folder(str(deep / "w.db"))
    with Segue(f"sqlite:///{deep / 'w.db'}") as here, Segue("sqlite:///w.db") as there:
        here.register(ONE_STEP)
        woken = threading.Event()
        there.service.on_change(woken.set)
        here.start("woken", run=False)
        assert woken.wait(30)
