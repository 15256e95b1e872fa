"""The worker side of the use cases: claims, reports, timers and expired leases.

Each batch is one transaction: a worker reports its finished step runs and
claims the next ones together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from segue import core
from segue.core.commands import Command
from segue.core.task import TaskState
from segue.encoding import (
    artifact_ref,
    canonical_json,
)
from segue.errors import (
    LeaseLost,
    TaskFinished,
    UserError,
)
from segue.runtime.clock import epoch_ms
from segue.service_core import CONCURRENCY_BACKOFF_MS, DEFAULT_LEASE_S, Job, Outcome, ServiceCore
from segue.spec import StepKind
from segue.store.base import NewArtifact, RunClaim, Tx
from segue.types import JSONValue, isoformat


class Execution(ServiceCore):
    """The use cases workers call."""

    def claim(
        self,
        owner: str,
        *,
        limit: int = 1,
        lease_s: float = DEFAULT_LEASE_S,
        task_id: str | None = None,
    ) -> list[Job]:
        """Take due step runs (of one task, if named) and mark their steps RUNNING."""
        jobs, _ = self.store.optimistic(lambda tx: self._claim(tx, owner, limit, lease_s, task_id))
        return jobs

    def report(
        self,
        outcomes: Sequence[Outcome],
        *,
        owner: str = "",
        claim: int = 0,
        lease_s: float = DEFAULT_LEASE_S,
        task_id: str | None = None,
    ) -> tuple[list[bool], list[Job]]:
        """Record finished step runs, then claim up to ``claim`` more: one transaction.

        Returns which outcomes were recorded, and the newly claimed jobs. An
        outcome whose lease was lost (fenced), or whose task was cancelled
        meanwhile, is discarded; the others are recorded as usual.
        """
        prepared = [self._prepare(outcome) for outcome in outcomes]

        def body(tx: Tx) -> tuple[list[bool], list[Job]]:
            tx.lock_tasks([outcome.job.claim.task_id for outcome, _ in prepared])
            recorded = [self._record(tx, outcome, artifact) for outcome, artifact in prepared]
            return recorded, self._claim(tx, owner, claim, lease_s, task_id) if claim else []

        (recorded, jobs), written = self.store.optimistic(body)
        if any(recorded):
            self._notify(written)
        return recorded, jobs

    def complete(self, job: Job, output: JSONValue) -> TaskState | None:
        """Record one handler's output; None when the lease was lost (output discarded)."""
        (recorded,), _ = self.report([Outcome(job=job, output=output)])
        return self.store.get_task(job.claim.task_id) if recorded else None

    def fail(self, job: Job, error: BaseException, *, permanent: bool = False) -> TaskState | None:
        """Record one failed attempt (the retry policy decides what follows); None if fenced."""
        (recorded,), _ = self.report([Outcome(job=job, error=error, permanent=permanent)])
        return self.store.get_task(job.claim.task_id) if recorded else None

    def expire_leases(self, *, limit: int = 100) -> int:
        """Re-queue runs whose worker stopped renewing its lease; returns how many."""
        now = self.clock.now()
        count = 0
        with self.store.transaction() as tx:
            for run in tx.expired(epoch_ms(now), limit):
                tx.close_runs(run.task_id, run.step, "expired", epoch_ms(now))
                state = tx.lock_task(run.task_id)
                step = state.steps.get(run.step)
                if state.status.terminal or step is None or step.attempt != run.attempt:
                    continue
                self._apply(tx, state, core.ExpireLease(step=run.step, attempt=run.attempt))
                count += 1
        return count

    def seconds_until_due(self) -> float | None:
        """How long until the next queued run may start (None: nothing queued)."""
        due = self.store.next_due_ms()
        if due is None:
            return None
        return max(0.0, (due - epoch_ms(self.clock.now())) / 1000)

    def _claim(
        self, tx: Tx, owner: str, limit: int, lease_s: float, task_id: str | None = None
    ) -> list[Job]:
        now = self.clock.now()
        started: list[tuple[RunClaim, TaskState]] = []
        for claim in tx.claim(owner, epoch_ms(now), int(lease_s * 1000), limit, task_id):
            state = tx.lock_task(claim.task_id)
            step = state.steps.get(claim.step)
            if step is not None and step.status is core.StepStatus.WAITING_USER:
                if step.attempt == claim.attempt and not state.status.terminal:
                    self._fire_timer(tx, state, claim)
                else:
                    tx.finish_run(claim, "discarded", epoch_ms(now), None)
                continue
            if (
                state.status.terminal
                or step is None
                or step.attempt != claim.attempt
                or step.status is not core.StepStatus.READY
            ):
                tx.finish_run(claim, "discarded", epoch_ms(now), None)
                continue
            if self._over_limit(tx, state, claim):
                tx.unclaim(claim, epoch_ms(now) + CONCURRENCY_BACKOFF_MS)
                continue
            command = core.ClaimStep(step=claim.step, attempt=claim.attempt, worker=owner)
            self._apply(tx, state, command)
            started.append((claim, state))
        return self._jobs(tx, started)

    def _jobs(self, tx: Tx, started: list[tuple[RunClaim, TaskState]]) -> list[Job]:
        """The jobs of claimed runs, with their upstream outputs (one query for them all)."""
        needs = [
            (claim, state, self._compiled(state.pipeline, state.version))
            for claim, state in started
        ]
        wanted: dict[str, set[str]] = {}
        for claim, _, compiled in needs:  # a batch may hold two steps of one task
            wanted.setdefault(claim.task_id, set()).update(compiled.ancestors[claim.step])
        outputs = tx.outputs_of({task: sorted(steps) for task, steps in wanted.items()})
        jobs = []
        for claim, state, compiled in needs:
            found = outputs.get(claim.task_id, {})
            upstream = {k: found[k] for k in sorted(compiled.ancestors[claim.step]) if k in found}
            kinds = compiled.spec.step
            inputs = {k: v for k, v in upstream.items() if kinds(k).kind is StepKind.WAIT_USER}
            jobs.append(
                Job(
                    claim=claim,
                    spec=compiled.spec,
                    config=state.config,
                    artifacts=upstream,
                    inputs=inputs,
                )
            )
        return jobs

    def _over_limit(self, tx: Tx, state: TaskState, claim: RunClaim) -> bool:
        """Whether this claim would run more at once than its step or pipeline allows.

        The counts include the claim itself and are taken inside the claiming
        transaction, which holds the database's write lock, so workers in
        different processes cannot both slip under a limit.
        """
        spec = self._compiled(state.pipeline, state.version).spec
        step_limit = spec.step(claim.step).concurrency
        if step_limit is None and spec.concurrency is None:
            return False
        now_ms = epoch_ms(self.clock.now())
        if (
            step_limit is not None
            and tx.running_count(state.pipeline, claim.step, now_ms) > step_limit
        ):
            return True
        pipeline_limit = spec.concurrency
        return pipeline_limit is not None and (
            tx.running_count(state.pipeline, None, now_ms) > pipeline_limit
        )

    def _fire_timer(self, tx: Tx, state: TaskState, claim: RunClaim) -> None:
        """A wait step's durable timer is due: time the step out, once."""
        step = state.steps[claim.step]
        policy = self._compiled(state.pipeline, state.version).spec.step(claim.step).on_timeout
        tx.finish_run(claim, "fired", epoch_ms(self.clock.now()), None)
        artifact = None
        if policy == "use_prefill" and step.prefill is not None:
            encoded = self._encode(claim.step, step.prefill, what="input")
            artifact = replace(
                encoded,
                attempt=claim.attempt,
                generation=step.generation,
                meta_text=self._answer_meta(step.prefill, encoded, step.prefill),
            )
        command = core.TimeOut(
            step=claim.step,
            attempt=claim.attempt,
            artifact=artifact_ref(artifact) if artifact else {},
        )
        after = self._apply(tx, state, command, {claim.step: step.prefill} if artifact else {})
        if artifact is not None and after.state.steps[claim.step].status.done:
            tx.put_artifact(state.id, artifact, self._now_iso())

    def _prepare(self, outcome: Outcome) -> tuple[Outcome, NewArtifact | None]:
        """Encode the output before the transaction (blob files are written here)."""
        if outcome.error is not None:
            return outcome, None
        try:
            return outcome, self._encode(outcome.job.step, outcome.output)
        except UserError as exc:
            return replace(outcome, error=exc, permanent=True), None
        except (TypeError, ValueError, RecursionError) as exc:
            error = UserError(f"the output of step '{outcome.job.step}' is not JSON: {exc}")
            return replace(outcome, error=error, permanent=True), None
        except OSError as exc:  # the blob store could not take it: retry by policy
            return replace(outcome, error=exc), None

    def _record(self, tx: Tx, outcome: Outcome, artifact: NewArtifact | None) -> bool:
        job, now = outcome.job, self.clock.now()
        state = tx.lock_task(job.claim.task_id)
        command: Command
        extra: dict[str, JSONValue] = {}
        if artifact is not None:
            artifact = replace(
                artifact, attempt=job.claim.attempt, generation=state.steps[job.step].generation
            )
            command = core.CompleteStep(
                step=job.step, attempt=job.claim.attempt, artifact=artifact_ref(artifact)
            )
            extra[job.step] = outcome.output
            status, error_text = "completed", None
        else:
            error = outcome.error
            assert error is not None
            kind = getattr(error, "kind", type(error).__name__)  # a child process's error class
            message = (str(error) or kind)[:2000]
            command = core.FailStep(
                step=job.step,
                attempt=job.claim.attempt,
                error_type=kind,
                message=message,
                permanent=outcome.permanent,
                jitter_sample=self._random.random(),
            )
            status = "failed"
            error_text = canonical_json({"type": kind, "message": message})
        try:
            transition = self._transition(state, command, tx, extra)
        except (LeaseLost, TaskFinished) as exc:
            tx.finish_run(job.claim, "discarded", epoch_ms(now), error_text)
            self._reject(tx, state, job, status, exc.message)
            return False
        if not tx.finish_run(job.claim, status, epoch_ms(now), error_text):
            self._reject(tx, state, job, status, "another worker holds the step's lease now")
            return False  # fenced: another attempt holds the step now
        self._write(tx, state, transition)
        if artifact is not None:
            tx.put_artifact(state.id, artifact, isoformat(now) or "")
        return True

    def _reject(self, tx: Tx, state: TaskState, job: Job, outcome: str, reason: str) -> None:
        """Put a dropped late report on the record (it changes nothing else)."""
        command = core.RejectReport(
            step=job.step, attempt=job.claim.attempt, outcome=outcome, reason=reason
        )
        self._write(tx, state, core.advance(job.spec, state, command, self.clock.now()))
