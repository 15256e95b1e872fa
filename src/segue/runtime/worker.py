"""Workers: claim due step runs, run their handlers, report through the service.

A worker reports the outcomes of one batch and claims the next batch in one
transaction, so one commit covers many transitions (group commit). Execution is
at-least-once (a worker killed mid-step leaves its lease to expire, and the
step runs again as a new attempt); completion is recorded exactly once, fenced
by the lease token.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog

from segue.errors import PermanentError
from segue.runtime.context import StepContext
from segue.service import DEFAULT_LEASE_S, Job, Outcome, Service

log = structlog.get_logger("segue.worker")

DEFAULT_POLL_S = 0.2
DEFAULT_BATCH = 32
"""Step runs claimed (and reported) per transaction."""


def default_owner() -> str:
    """A worker name unique on this machine: ``host:pid:thread``."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class Worker:
    """Runs ready auto steps in the calling thread, a batch at a time.

    Args:
        service: The use cases to report through.
        owner: Name recorded on leases (default ``host:pid:thread``).
        lease_s: How long a claim lasts without renewal; a heartbeat thread
            renews held leases every third of it.
        poll_s: How often an idle worker looks for work (a commit in this
            process wakes it at once).
        batch: How many step runs one transaction claims and reports.
    """

    def __init__(
        self, service: Service, *, owner: str | None = None, lease_s: float = DEFAULT_LEASE_S,
        poll_s: float = DEFAULT_POLL_S, batch: int = DEFAULT_BATCH,
    ) -> None:  # fmt: skip
        self.service = service
        self.owner = owner or default_owner()
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.batch = batch
        self._held: dict[str, Job] = {}
        self._held_lock = threading.Lock()
        self._wake = threading.Event()
        self._next_sweep = 0.0
        service.on_change(self._wake.set)

    def drain(self, until: Callable[[], bool] | None = None, *,
              stop: threading.Event | None = None) -> None:  # fmt: skip
        """Run steps until ``until()`` is true, ``stop`` is set, or (without ``until``)
        nothing is queued at all. Waits through retry back-offs."""  # noqa: D205,D209
        stop = stop or threading.Event()
        beating = threading.Event()
        heartbeat = threading.Thread(target=self._beat, args=(beating,), daemon=True,
                                     name="segue-heartbeat")  # fmt: skip
        heartbeat.start()
        jobs: list[Job] = []
        try:
            while not stop.is_set():
                self._sweep()
                if jobs:
                    outcomes = [self.execute(job) for job in jobs]
                    _, jobs = self.service.report(outcomes, owner=self.owner, claim=self.batch,
                                                  lease_s=self.lease_s)  # fmt: skip
                    self._release(outcomes)
                    self._hold(jobs)
                    continue
                if until is not None and until():
                    return
                jobs = self.service.claim(self.owner, limit=self.batch, lease_s=self.lease_s)
                self._hold(jobs)
                if jobs:
                    continue
                wait = self.service.seconds_until_due()
                if wait is None and until is None:
                    return
                self._idle(self.poll_s if wait is None else min(wait, self.poll_s * 5))
        finally:
            beating.set()
            heartbeat.join()

    def run_forever(self, stop: threading.Event) -> None:
        """Poll for work until ``stop`` is set."""
        self.drain(until=stop.is_set, stop=stop)

    def execute(self, job: Job) -> Outcome:
        """Run one claimed job's handler; returns its output or its error."""
        step = job.spec.step(job.step)
        assert step.run is not None
        context = StepContext(
            task_id=job.claim.task_id, step=job.step, attempt=job.claim.attempt,
            config=job.config, params=step.params, artifacts=job.artifacts, inputs=job.inputs,
            idempotency_key=job.claim.idempotency_key, pipeline=job.spec.name,
            version=job.spec.version,
        )  # fmt: skip
        try:
            handler = self.service.handlers.resolve(step.run)
            return Outcome(job=job, output=call_handler(handler, context))
        except PermanentError as exc:
            return Outcome(job=job, error=exc, permanent=True)
        except Exception as exc:
            log.warning("step failed", task_id=job.claim.task_id, step=job.step,
                        attempt=job.claim.attempt, error=repr(exc))  # fmt: skip
            return Outcome(job=job, error=exc)

    def _idle(self, seconds: float) -> None:
        """Wait for work: woken early by a commit in this process."""
        if self._wake.wait(max(seconds, 0.001)):
            self._wake.clear()
        else:
            self.service.clock.sleep(0)  # lets a fake clock see time pass

    def _sweep(self) -> None:
        """Re-queue expired leases, at most every third of a lease."""
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.lease_s / 3
            self.service.expire_leases()

    def _hold(self, jobs: list[Job]) -> None:
        with self._held_lock:
            self._held.update((job.claim.token, job) for job in jobs)

    def _release(self, outcomes: list[Outcome]) -> None:
        with self._held_lock:
            for outcome in outcomes:
                self._held.pop(outcome.job.claim.token, None)

    def _beat(self, stopped: threading.Event) -> None:
        while not stopped.wait(self.lease_s / 3):
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
