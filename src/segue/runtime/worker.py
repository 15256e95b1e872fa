"""Workers: claim due step runs, run their handlers, report through the service.

Execution is at-least-once (a worker killed mid-step leaves its lease to
expire, and the step runs again as a new attempt); completion is recorded
exactly once, fenced by the lease token.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

import structlog

from segue.errors import PermanentError
from segue.runtime.context import StepContext
from segue.service import DEFAULT_LEASE_S, Job, Service

log = structlog.get_logger("segue.worker")

DEFAULT_POLL_S = 0.2


def default_owner() -> str:
    """A worker name unique on this machine: ``host:pid:thread``."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class Worker:
    """Runs ready auto steps, one at a time, in the calling thread.

    Args:
        service: The use cases to report through.
        owner: Name recorded on leases (default ``host:pid:thread``).
        lease_s: How long a claim lasts without renewal; a heartbeat thread
            renews held leases every third of it.
    """

    def __init__(
        self,
        service: Service,
        *,
        owner: str | None = None,
        lease_s: float = DEFAULT_LEASE_S,
        poll_s: float = DEFAULT_POLL_S,
    ) -> None:
        self.service = service
        self.owner = owner or default_owner()
        self.lease_s = lease_s
        self.poll_s = poll_s
        self._held: dict[str, Job] = {}
        self._held_lock = threading.Lock()
        self._heartbeat: threading.Thread | None = None
        self._stop = threading.Event()

    def run_once(self) -> int:
        """Expire stale leases, then claim and run at most one step; returns steps run."""
        self.service.expire_leases()
        jobs = self.service.claim(self.owner, limit=1, lease_s=self.lease_s)
        for job in jobs:
            self.execute(job)
        return len(jobs)

    def drain(self, until: Callable[[], bool] | None = None, *, max_wait_s: float = 3600) -> None:
        """Run steps until ``until()`` is true, or until nothing is queued at all.

        Waits through retry back-offs (up to ``max_wait_s`` each).
        """
        self._start_heartbeat()
        try:
            while not self._stop.is_set():
                if until is not None and until():
                    return
                if self.run_once():
                    continue
                wait = self.service.seconds_until_due()
                if wait is None:
                    if until is None:
                        return
                    wait = self.poll_s
                self.service.clock.sleep(min(max(wait, 0.001), max_wait_s, self.poll_s * 5))
        finally:
            self._stop_heartbeat()

    def run_forever(self, stop: threading.Event) -> None:
        """Poll for work until ``stop`` is set."""
        self._stop = stop
        self.drain(until=stop.is_set)

    def execute(self, job: Job) -> None:
        """Run one claimed job's handler and report the outcome."""
        step = job.spec.step(job.step)
        assert step.run is not None
        context = StepContext(
            task_id=job.claim.task_id,
            step=job.step,
            attempt=job.claim.attempt,
            config=job.config,
            params=step.params,
            artifacts=job.artifacts,
            inputs=job.inputs,
            idempotency_key=job.claim.idempotency_key,
            pipeline=job.spec.name,
            version=job.spec.version,
        )
        with self._held_lock:
            self._held[job.claim.token] = job
        try:
            try:
                handler = self.service.handlers.resolve(step.run)
                output = call_handler(handler, context)
            except PermanentError as exc:
                self.service.fail(job, exc, permanent=True)
                return
            except Exception as exc:
                log.warning(
                    "step failed",
                    task_id=job.claim.task_id,
                    step=job.step,
                    attempt=job.claim.attempt,
                    error=repr(exc),
                )
                self.service.fail(job, exc)
                return
            if self.service.complete(job, output) is None:
                log.warning(
                    "lease lost; result discarded",
                    task_id=job.claim.task_id,
                    step=job.step,
                    attempt=job.claim.attempt,
                )
        finally:
            with self._held_lock:
                self._held.pop(job.claim.token, None)

    def _start_heartbeat(self) -> None:
        if self._heartbeat is None:
            self._heartbeat = threading.Thread(
                target=self._beat, name="segue-heartbeat", daemon=True
            )
            self._heartbeat.start()

    def _stop_heartbeat(self) -> None:
        self._heartbeat = None

    def _beat(self) -> None:
        me = threading.current_thread()
        while self._heartbeat is me and not self._stop.wait(self.lease_s / 3):
            with self._held_lock:
                tokens = list(self._held)
            if tokens:
                until = self.service.clock.now().timestamp() + self.lease_s
                self.service.store.renew_leases(self.owner, tokens, int(until * 1000))


def call_handler(handler: Callable[..., Any], context: StepContext) -> Any:
    """Call a sync or async handler with its context and return its output."""
    result = handler(context)
    if inspect.isawaitable(result):
        return asyncio.run(_await(result))
    return result


async def _await(awaitable: Any) -> Any:
    return await awaitable
