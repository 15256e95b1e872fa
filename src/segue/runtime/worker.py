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
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import structlog

from segue.errors import PermanentError, StoreUnavailable
from segue.runtime.context import StepContext
from segue.runtime.processes import run_in_child
from segue.service import DEFAULT_LEASE_S, Job, Outcome, Service

log = structlog.get_logger("segue.worker")

DEFAULT_POLL_S = 0.2
OUTAGE_BACKOFF_S = (0.2, 2.0)
"""A worker's first and longest wait between tries while the database is unreachable."""
STOP_CHECK_S = 0.5
"""An idle worker looks at its stop flag at least this often, however long its poll."""
DEFAULT_BATCH = 32
"""Step runs claimed (and reported) per transaction."""


def default_owner() -> str:
    """A worker name unique on this machine: ``host:pid:thread``."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class Worker:
    """Claims ready auto steps a batch at a time and runs their handlers in a thread pool.

    The calling thread supervises: it waits for the batch, renews the leases of
    handlers still running every third of a lease (so a step longer than the
    lease keeps its worker), then reports the batch and claims the next one in
    one transaction. Call :meth:`close` (or use ``with``) to stop the pool.

    Args:
        service: The use cases to report through.
        owner: Name recorded on leases (default ``host:pid:thread``).
        lease_s: How long a claim lasts without renewal.
        poll_s: How often an idle worker looks for work (a commit in this
            process wakes it at once).
        batch: How many step runs one transaction claims and reports.
        concurrency: Handlers run at once (threads in the pool).
    """

    def __init__(
        self,
        service: Service,
        *,
        owner: str | None = None,
        lease_s: float = DEFAULT_LEASE_S,
        poll_s: float = DEFAULT_POLL_S,
        batch: int = DEFAULT_BATCH,
        concurrency: int = 1,
    ) -> None:
        self.service = service
        self.owner = owner or default_owner()
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.batch = batch
        self.concurrency = concurrency
        self._threads: _HandlerThreads | None = None
        self._wake = threading.Event()
        self._next_sweep = 0.0
        self._late: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        """Results of timed-out runs that came back after all: reported, to be rejected."""
        service.on_change(self._wake.set)

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def release(self) -> int:
        """Give back every lease this worker holds, so another worker can go on at once.

        For a process about to stop before its handlers finish: their steps run
        again as new attempts elsewhere (the same idempotency key).
        """
        return self.service.store.release_leases(self.owner)

    def close(self) -> None:
        """Stop the handler threads and stop listening for commits."""
        self.service.off_change(self._wake.set)
        if self._threads is not None:
            self._threads.close()
            self._threads = None

    def drain(
        self,
        until: Callable[[], bool] | None = None,
        *,
        stop: threading.Event | None = None,
        task_id: str | None = None,
    ) -> None:
        """Run steps until ``until()`` is true, ``stop`` is set, or (without ``until``)
        nothing is queued at all. Waits through retry back-offs."""  # noqa: D205,D209
        stop = stop or threading.Event()
        jobs: list[Job] = []
        while not stop.is_set():
            self._sweep()
            self.report_late()
            if jobs:
                outcomes = self.run_batch(jobs)
                jobs = self._report(outcomes, stop, task_id)
                continue
            if until is not None and until():
                return
            jobs = self.service.claim(
                self.owner, limit=self.batch, lease_s=self.lease_s, task_id=task_id
            )
            if jobs:
                continue
            wait = self.service.seconds_until_due()
            if wait is None and until is None:
                return
            self._idle(self.poll_s if wait is None else min(wait, self.poll_s * 5), stop)

    def run_forever(self, stop: threading.Event) -> None:
        """Poll for work until ``stop`` is set, through database outages.

        While the database cannot be reached the worker waits and tries again
        (with a back-off up to :data:`OUTAGE_BACKOFF_S`); a batch whose report
        failed is reported again once it answers, so no finished step is lost
        unless its lease ran out meanwhile (then it runs again elsewhere).
        """
        wait = OUTAGE_BACKOFF_S[0]
        while not stop.is_set():
            try:
                self.drain(until=stop.is_set, stop=stop)
            except StoreUnavailable as exc:
                log.warning("database unavailable; the worker waits", error=exc.message)
                stop.wait(wait)
                wait = min(wait * 2, OUTAGE_BACKOFF_S[1])

    def _report(
        self, outcomes: list[Outcome], stop: threading.Event, task_id: str | None
    ) -> list[Job]:
        """Report a batch and claim the next; through an outage, report it again until the
        database answers, for as long as the batch's leases can still hold (or until ``stop``
        is set): after that its steps run again anyway."""  # noqa: D205,D209
        wait = OUTAGE_BACKOFF_S[0]
        give_up = time.monotonic() + self.lease_s
        while True:
            try:
                _, jobs = self.service.report(
                    outcomes,
                    owner=self.owner,
                    claim=0 if stop.is_set() else self.batch,
                    lease_s=self.lease_s,
                    task_id=task_id,
                )
                return jobs
            except StoreUnavailable as exc:
                if stop.is_set() or time.monotonic() >= give_up:
                    raise
                log.warning("cannot report a batch yet", error=exc.message, runs=len(outcomes))
                stop.wait(wait)
                wait = min(wait * 2, OUTAGE_BACKOFF_S[1])

    def run_batch(self, jobs: list[Job]) -> list[Outcome]:
        """Run the jobs' handlers in the pool, supervising them until each has an outcome.

        While handlers run, their leases are renewed every third of a lease; a
        run whose lease is gone (cancelled, rerun, taken over) gets its
        ``cancelled`` flag set. A run past its step's ``timeout`` is failed as
        ``StepTimedOut`` (and retried by policy) without waiting for it: a
        thread cannot be killed, so it is asked to stop and whatever it returns
        later is discarded.
        """
        if self._threads is None:
            self._threads = _HandlerThreads(self.concurrency, self._execute_run)
        threads = self._threads
        started = time.monotonic()
        batch = _Batch()
        runs = [_Run(job, started, batch) for job in jobs]
        batch.expect(runs)
        for run in runs:
            threads.submit(run)
        pending, renew_at = set(runs), started + self.lease_s / 3
        while pending:
            # One wake-up when the whole batch is in, not one per run (a thread woken on
            # the other core fights this one for the GIL); sooner only for a deadline.
            deadline = min([renew_at, *(r.deadline for r in pending)])
            batch.settled.wait(max(deadline - time.monotonic(), 0.005))
            for run, outcome in threads.finished():
                if run in pending:
                    run.outcome = outcome
                    pending.discard(run)
                else:  # a run given up on earlier came back after all
                    self._late.put(outcome)
            now = time.monotonic()
            for run in [r for r in pending if r.deadline <= now]:
                run.time_out()
                pending.discard(run)
                batch.settle(run)
            if pending and now >= renew_at:
                renew_at = now + self.lease_s / 3
                self._renew(list(pending))
        return [r.outcome for r in runs if r.outcome is not None]

    def _execute_run(self, run: _Run) -> Outcome:
        return self.execute(run.job, run.cancelled)

    def _blob_root(self) -> Path | None:
        root = getattr(getattr(self.service.store, "blobs", None), "root", None)
        return Path(root) if root is not None else None

    def report_late(self) -> None:
        """Put late results of timed-out runs on the record (they are rejected, by fencing)."""
        if self._threads is not None:  # between batches, whatever comes back is late
            for _, outcome in self._threads.finished():
                self._late.put(outcome)
        late = []
        while not self._late.empty():
            late.append(self._late.get_nowait())
        if late:
            self.service.report(late, owner=self.owner)

    def _renew(self, runs: list[_Run]) -> None:
        until = self.service.clock.now().timestamp() + self.lease_s
        tokens = [r.job.claim.token for r in runs]
        try:
            held = self.service.store.renew_leases(self.owner, tokens, int(until * 1000))
        except StoreUnavailable as exc:  # try again at the next third of the lease
            log.warning("cannot renew leases", error=exc.message)
            return
        for run in runs:
            if run.job.claim.token not in held:
                run.cancelled.set()

    def execute(self, job: Job, cancelled: threading.Event | None = None) -> Outcome:
        """Run one claimed job's handler; returns its output or its error."""
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
            depends_on=step.depends_on,
            blobs=self.service.store,
            cancelled=cancelled or threading.Event(),
        )
        try:
            if step.executor == "process":
                output = run_in_child(step.run, context, self._blob_root())
                return Outcome(job=job, output=output)
            handler = self.service.handlers.resolve(step.run)
            return Outcome(job=job, output=call_handler(handler, context))
        except PermanentError as exc:
            return Outcome(job=job, error=exc, permanent=True)
        except Exception as exc:
            log.warning(
                "step failed",
                task_id=job.claim.task_id,
                step=job.step,
                attempt=job.claim.attempt,
                error=repr(exc),
            )
            return Outcome(job=job, error=exc)

    def _idle(self, seconds: float, stop: threading.Event) -> None:
        """Wait for work: woken early by a commit (of this process, or of another one where
        the store can tell), and within :data:`STOP_CHECK_S` of ``stop``."""  # noqa: D205,D209
        deadline = time.monotonic() + max(seconds, 0.001)
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                self.service.clock.sleep(0)  # lets a fake clock see time pass
                return
            if self._wake.wait(min(left, STOP_CHECK_S)):
                self._wake.clear()
                return

    def _sweep(self) -> None:
        """Re-queue expired leases, at most every third of a lease."""
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.lease_s / 3
            self.service.expire_leases()


class _HandlerThreads:
    """The threads that run handlers: runs go in on one queue, ``(run, outcome)`` pairs
    come out on :attr:`done`, where the outcome is an :class:`Outcome` or, when a handler
    raised something that is not an Exception (KeyboardInterrupt, SystemExit), that.
    Lighter than a ThreadPoolExecutor: no future and no waiter per run."""  # noqa: D205,D209

    def __init__(self, size: int, execute: Callable[[_Run], Outcome]) -> None:
        self._size = size
        self._execute = execute
        self._runs: queue.SimpleQueue[_Run | None] = queue.SimpleQueue()
        self.done: queue.SimpleQueue[tuple[_Run, Outcome | BaseException]] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    def submit(self, run: _Run) -> None:
        """Queue a run (the threads start with the first)."""
        while len(self._threads) < self._size:
            thread = threading.Thread(
                target=self._loop, name=f"segue-step-{len(self._threads)}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        self._runs.put(run)

    def _loop(self) -> None:
        while (run := self._runs.get()) is not None:
            try:
                outcome: Outcome | BaseException = self._execute(run)
            except BaseException as exc:  # handed to the supervisor, as a future would
                outcome = exc
            self.done.put((run, outcome))
            run.batch.settle(run)

    def finished(self) -> Iterator[tuple[_Run, Outcome]]:
        """The runs that came back since the last look, without waiting.

        Raises:
            BaseException: what a handler raised that is not an Exception (it goes on up).
        """
        while True:
            try:
                run, outcome = self.done.get_nowait()
            except queue.Empty:
                return
            if isinstance(outcome, BaseException):
                raise outcome
            yield run, outcome

    def close(self) -> None:
        """Let the threads finish what they run, then stop them."""
        for _ in self._threads:
            self._runs.put(None)
        for thread in self._threads:
            thread.join()
        self._threads.clear()


class StepTimedOut(Exception):
    """A handler ran past its step's ``timeout``."""


class _Batch:
    """The runs of one batch still out: :attr:`settled` is set once none is (each came
    back, or was given up on)."""  # noqa: D205,D209

    def __init__(self) -> None:
        self._out: set[_Run] = set()
        self._lock = threading.Lock()
        self.settled = threading.Event()

    def expect(self, runs: list[_Run]) -> None:
        """Start waiting for ``runs``."""
        self._out.update(runs)
        if not self._out:
            self.settled.set()

    def settle(self, run: _Run) -> None:
        """``run`` is no longer out (calling it twice for one run is harmless)."""
        with self._lock:
            self._out.discard(run)
            if not self._out:
                self.settled.set()


class _Run:
    """One job under supervision: its cancel flag, its deadline, its outcome."""

    def __init__(self, job: Job, started: float, batch: _Batch) -> None:
        self.job = job
        self.batch = batch
        self.cancelled = threading.Event()
        self.outcome: Outcome | None = None
        timeout_s = job.spec.step(job.step).timeout_s
        self.timeout_s = timeout_s
        self.deadline = started + timeout_s if timeout_s is not None else float("inf")

    def time_out(self) -> None:
        """Give up on the run: ask it to stop and fail it (retried by policy)."""
        self.cancelled.set()
        message = f"the step ran past its timeout of {self.timeout_s:g}s"
        self.outcome = Outcome(job=self.job, error=StepTimedOut(message))
        log.warning("step timed out", task_id=self.job.claim.task_id, step=self.job.step)


def call_handler(handler: Callable[..., Any], context: StepContext) -> Any:
    """Call a sync or async handler with its context and return its output."""
    result = handler(context)
    if inspect.isawaitable(result):
        return asyncio.run(_await(result))
    return result


async def _await(awaitable: Any) -> Any:
    return await awaitable
