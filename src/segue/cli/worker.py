"""``segue worker``: a process that only runs steps, beside any number of API nodes."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from segue.app import Segue
from segue.cli.common import OPTIONS, DatabaseUrl, err, lit, plural
from segue.runtime.memory import freeze_startup_objects
from segue.runtime.worker import DEFAULT_BATCH, Worker, default_owner
from segue.service import DEFAULT_LEASE_S
from segue.settings import Settings

DEFAULT_GRACE_S = 30.0
DEFAULT_WORKER_POLL_S = 1.0
"""An idle worker's poll: a notification (PostgreSQL) or a commit here wakes it sooner."""


def worker(
    database_url: DatabaseUrl = None,
    concurrency: Annotated[
        int, typer.Option(min=1, max=512, help="Handlers run at once (threads).")
    ] = 4,
    batch: Annotated[
        int, typer.Option(min=1, max=1000, help="Step runs claimed and reported per transaction.")
    ] = DEFAULT_BATCH,
    lease_s: Annotated[
        float, typer.Option("--lease-s", min=1, help="How long a claim holds without renewal.")
    ] = DEFAULT_LEASE_S,
    poll_s: Annotated[
        float, typer.Option("--poll-s", min=0.01, help="Longest wait of an idle worker.")
    ] = DEFAULT_WORKER_POLL_S,
    grace_s: Annotated[
        float,
        typer.Option(
            "--grace-s", min=0, help="On SIGTERM, how long running steps may take to finish."
        ),
    ] = DEFAULT_GRACE_S,
    pipelines: Annotated[
        list[Path] | None,
        typer.Option("--pipelines", help="Register every definition in this folder (or file)."),
    ] = None,
    allow_unsafe: Annotated[
        bool,
        typer.Option("--allow-unsafe", help="Run on a database whose durability is off."),
    ] = False,
) -> None:
    """Run auto steps until SIGTERM: then claim nothing more, finish (or give back) the running
    steps, and exit 0."""  # noqa: D205,D209
    settings = Settings.from_env(
        database_url=database_url or OPTIONS.database_url,
        blob_dir=OPTIONS.blob_dir,
        allow_unsafe=allow_unsafe or OPTIONS.allow_unsafe,
    )
    engine = Segue.from_settings(settings)
    for problem in engine.store.unsafe:
        err.print(f"[bold red]UNSAFE[/bold red]: {lit(problem)}; acknowledged work can be lost")
    paths: list[str | Path] = [*settings.pipelines, *(pipelines or [])]
    for path in paths:
        engine.service.register_path(path)
    stop = threading.Event()
    runner = Worker(
        engine.service,
        owner=default_owner(),
        concurrency=concurrency,
        batch=batch,
        lease_s=lease_s,
        poll_s=poll_s,
    )

    def on_signal(signum: int, _frame: object) -> None:
        if stop.is_set():  # the second signal: stop now, the steps run again elsewhere
            _hard_stop(runner, 143 if signum == signal.SIGTERM else 130)
        err.print("stopping: no new steps; finishing the running ones", highlight=False)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    freeze_startup_objects()
    thread = threading.Thread(target=runner.run_forever, args=(stop,), name="segue-worker")
    err.print(
        f"worker {runner.owner}: {plural(concurrency, 'handler thread')}, "
        f"batches of {batch} (SIGTERM stops)",
        highlight=False,
    )
    thread.start()
    while thread.is_alive() and not stop.is_set():
        thread.join(0.5)
    thread.join(grace_s)
    if thread.is_alive():
        err.print(f"steps still running after {grace_s:g}s; giving their leases back")
        _hard_stop(runner, 143)
    runner.release()
    runner.close()
    engine.close()
    err.print("stopped", highlight=False)


def _hard_stop(runner: Worker, code: int) -> None:
    with contextlib.suppress(Exception):  # the database may be down: the leases run out
        runner.release()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
