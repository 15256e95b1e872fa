"""`segue db`: the schema revision, upgrades, and an online backup that restores and resumes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from segue import Segue
from tests.conftest import REPO

pytestmark = pytest.mark.slow

BIG = "x" * (70 * 1024)  # over the inline limit: stored as a blob
PIPELINE = f"""
pipeline: backed_up
version: 1
steps:
  - id: draft
    type: auto
    depends_on: []
    run: segue.builtins:passthrough
    with: {{text: "{BIG}"}}
  - id: confirm
    type: wait_user
    input_schema: {{type: object}}
  - {{id: publish, type: auto, run: "segue.builtins:passthrough"}}
"""


def segue(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEGUE_")}
    return subprocess.run(
        [sys.executable, "-m", "segue", *args],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_backup_taken_while_tasks_run_restores_and_resumes(tmp_path: Path) -> None:
    """Backed up while another thread keeps starting tasks, the copy opens on its own, with its
    blobs, and its waiting and queued tasks go on to the end."""
    url = f"sqlite:///{tmp_path / 'live.db'}"
    with Segue(url) as engine:
        engine.register(PIPELINE)
        waiting = engine.start("backed_up")["id"]
        queued = engine.start("backed_up", run=False)["id"]
        stop = threading.Event()

        def keep_writing() -> None:
            while not stop.is_set():
                engine.start("backed_up", run=False)

        writer = threading.Thread(target=keep_writing)
        writer.start()
        try:
            result = segue("--database-url", url, "db", "backup", "copy.db", "--json", cwd=tmp_path)
        finally:
            stop.set()
            writer.join()
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["blob_files"] >= 1
    assert (tmp_path / report["blobs"]) == tmp_path / "copy.db-blobs"
    with Segue(f"sqlite:///{tmp_path / 'copy.db'}") as copy:
        assert copy.get(waiting)["status"] == "WAITING_USER"
        assert copy.artifacts(waiting)["draft"]["params"] == {"text": BIG}  # the blob came along
        assert copy.advance(waiting, "confirm", {"ok": True})["status"] == "COMPLETED"
        assert copy.drive(queued)["status"] == "WAITING_USER"
        assert copy.advance(queued, "confirm", {})["status"] == "COMPLETED"
    again = segue("--database-url", url, "db", "backup", "copy.db", cwd=tmp_path)
    assert again.returncode == 3
    assert "exists already" in again.stderr and "Traceback" not in again.stderr


def test_a_backup_to_a_path_that_cannot_be_written_says_so(tmp_path: Path) -> None:
    """No file name, or a folder that cannot exist: one sentence about the destination,
    exit 3, and nothing left behind."""
    url = f"sqlite:///{tmp_path / 'live.db'}"
    with Segue(url) as engine:
        engine.register(PIPELINE)
    (tmp_path / "a-file").write_text("not a folder")
    for target, says in [("", "names no file"), ("a-file/x.db", "Cannot write the backup")]:
        result = segue("db", "backup", target, "--database-url", url, cwd=tmp_path)
        assert result.returncode == 3, result.stderr
        assert says in result.stderr and "Traceback" not in result.stderr
        assert "unexpected" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".db") == ["live.db"]


def test_db_current_and_upgrade_on_postgres(pg_url: str, tmp_path: Path) -> None:
    """An empty schema says so, is upgraded once, and is then current; backup points to pg_dump."""
    before = segue("db", "current", "--database-url", pg_url, "--json", cwd=tmp_path)
    assert before.returncode == 0, before.stderr
    assert json.loads(before.stdout)["state"] == "empty"
    up = segue("db", "upgrade", "--database-url", pg_url, cwd=tmp_path)
    assert up.returncode == 0 and "upgraded from (empty)" in up.stdout
    assert (
        "already up to date"
        in segue("db", "upgrade", "--database-url", pg_url, cwd=tmp_path).stdout
    )
    after = segue("db", "current", "--database-url", pg_url, "--json", cwd=tmp_path)
    assert json.loads(after.stdout)["state"] == "current"
    dump = segue("db", "backup", "x.db", "--database-url", pg_url, cwd=tmp_path)
    assert dump.returncode == 3 and "pg_dump" in dump.stderr
    assert "Traceback" not in dump.stderr


def test_serve_refuses_unsafe_sqlite_in_one_sentence(tmp_path: Path) -> None:
    """synchronous=NORMAL is below the documented default: refused unless --allow-unsafe."""
    env_url = f"sqlite:///{tmp_path / 'n.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEGUE_")}
    result = subprocess.run(
        [sys.executable, "-m", "segue", "serve", "--database-url", env_url, "--port", "0"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(REPO), "SEGUE_SQLITE_SYNCHRONOUS": "NORMAL"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert "synchronous is NORMAL" in result.stderr and "--allow-unsafe" in result.stderr
    assert "Traceback" not in result.stderr


def test_any_command_takes_the_global_allow_unsafe(tmp_path: Path) -> None:
    """The refusal says "pass --allow-unsafe": every command takes it, before its name."""
    definition = tmp_path / "p.yaml"
    definition.write_text(PIPELINE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEGUE_")}
    env = {**env, "PYTHONPATH": str(REPO), "SEGUE_SQLITE_SYNCHRONOUS": "NORMAL"}
    url = ("--database-url", f"sqlite:///{tmp_path / 'n.db'}")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "segue", *args, "pipelines", "register", str(definition)]
        return subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )

    refused = run(*url)
    assert refused.returncode == 3 and "--allow-unsafe" in refused.stderr
    allowed = run(*url, "--allow-unsafe")
    assert allowed.returncode == 0, allowed.stderr
    assert "UNSAFE" in allowed.stderr + allowed.stdout


def test_serve_refuses_a_schema_newer_than_it_knows(pg_url: str, tmp_path: Path) -> None:
    """A database migrated by a newer Segue: serve stops before listening, and says why."""
    import sqlalchemy as sa

    assert segue("db", "upgrade", "--database-url", pg_url, cwd=tmp_path).returncode == 0
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    engine.dispose()
    result = segue("serve", "--database-url", pg_url, "--workers", "0", "--port", "0", cwd=tmp_path)
    assert result.returncode == 3
    assert "9999" in result.stderr and "newer" in result.stderr
    assert "Traceback" not in result.stderr
    status = segue("db", "current", "--database-url", pg_url, "--json", cwd=tmp_path)
    assert json.loads(status.stdout)["state"] == "newer"
