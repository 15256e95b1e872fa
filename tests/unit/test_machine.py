"""Scenario tests of the pure core: start, advance, replay and the task view."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from segue.core import (
    Cancel,
    ClaimStep,
    Command,
    CompleteStep,
    Event,
    EventType,
    ExpireLease,
    FailStep,
    Rerun,
    Retry,
    StepStatus,
    SubmitInput,
    TaskState,
    TaskStatus,
    advance,
    current_step,
    replay,
    start,
    task_view,
)
from segue.errors import (
    InputInvalid,
    InvalidCommand,
    LeaseLost,
    StepNotFound,
    StepNotWaiting,
    TaskFinished,
    UserError,
)
from segue.spec import PipelineSpec, load_pipeline
from segue.types import JSONObject, JSONValue

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
P = "segue.builtins:passthrough"

LINEAR = f"""
pipeline: linear
version: 1
steps:
  - {{id: a, type: auto, depends_on: [], run: "{P}"}}
  - {{id: b, type: auto, run: "{P}"}}
  - {{id: c, type: auto, run: "{P}"}}
"""

FAN_IN = f"""
pipeline: fan_in
version: 1
config:
  type: object
  properties:
    with_review: {{type: boolean, default: false}}
steps:
  - {{id: start, type: auto, depends_on: [], run: "{P}"}}
  - {{id: left, type: auto, depends_on: [start], run: "{P}"}}
  - {{id: right, type: auto, depends_on: [start], run: "{P}"}}
  - id: review
    type: wait_user
    depends_on: [start]
    when: "config.with_review"
    input_schema:
      type: object
      required: [approved]
      properties:
        approved: {{type: boolean}}
  - {{id: join, type: auto, depends_on: [left, right, review], run: "{P}"}}
"""

REVIEW = f"""
pipeline: review
version: 1
steps:
  - {{id: prep, type: auto, depends_on: [], run: "{P}"}}
  - id: review
    type: wait_user
    title: Approve the amount
    prefill: "artifacts.prep"
    input_schema:
      type: object
      required: [decision, amount]
      properties:
        decision: {{enum: [approve, reject]}}
        amount: {{type: integer, minimum: 0}}
  - {{id: publish, type: auto, when: "artifacts.review.decision == 'approve'", run: "{P}"}}
  - {{id: notify, type: auto, run: "{P}"}}
"""

RETRYING = f"""
pipeline: retrying
version: 1
steps:
  - id: a
    type: auto
    depends_on: []
    run: "{P}"
    retry: {{max_attempts: 3, backoff: exponential, initial_delay: 2s, max_delay: 3s}}
  - {{id: b, type: auto, run: "{P}"}}
"""

BRANCHES = f"""
pipeline: branches
version: 1
steps:
  - {{id: root, type: auto, depends_on: [], run: "{P}"}}
  - {{id: good, type: auto, depends_on: [root], run: "{P}"}}
  - {{id: bad, type: auto, depends_on: [root], run: "{P}"}}
  - {{id: after_bad, type: auto, depends_on: [bad], run: "{P}"}}
"""

BACKWARDS = f"""
pipeline: backwards
version: 1
steps:
  - {{id: c, type: auto, depends_on: [b], run: "{P}"}}
  - {{id: b, type: auto, depends_on: [a], run: "{P}"}}
  - {{id: a, type: auto, depends_on: [], run: "{P}"}}
"""


def spec_of(text: str) -> PipelineSpec:
    """Load a definition without the handler check."""
    return load_pipeline(text)


@dataclass
class Run:
    """One task driven through the core, checking durability after every command."""

    spec: PipelineSpec
    state: TaskState
    events: list[Event] = field(default_factory=list)
    clock: datetime = T0

    @classmethod
    def begin(cls, text: str, config: JSONObject | None = None) -> Run:
        """Start a task of the definition ``text``."""
        spec = spec_of(text)
        transition = start(spec, "task-1", config or {}, T0)
        run = cls(spec, transition.state, list(transition.events))
        run.check()
        return run

    def do(
        self, command: Command, outputs: dict[str, JSONValue] | None = None
    ) -> tuple[Event, ...]:
        """Apply one command, one second after the previous one; return its events."""
        self.clock += timedelta(seconds=1)
        transition = advance(self.spec, self.state, command, self.clock, outputs)
        self.state = transition.state
        self.events.extend(transition.events)
        self.check()
        return transition.events

    def check(self) -> None:
        """The state equals the replay of the events, also after a JSON round trip."""
        assert replay(self.events) == self.state
        restored = [Event.from_json(json.loads(json.dumps(e.to_json()))) for e in self.events]
        assert replay(restored) == self.state
        assert TaskState.from_json(json.loads(json.dumps(self.state.to_json()))) == self.state

    def run_step(self, step: str, outputs: dict[str, JSONValue] | None = None) -> None:
        """Claim and complete the current attempt of an auto step."""
        attempt = self.state.step(step).attempt
        self.do(ClaimStep(step=step, attempt=attempt, worker="w1"))
        self.do(CompleteStep(step=step, attempt=attempt, artifact={"ok": True}), outputs)

    def fail_step(self, step: str, *, permanent: bool = False) -> tuple[Event, ...]:
        """Claim and fail the current attempt of an auto step."""
        attempt = self.state.step(step).attempt
        self.do(ClaimStep(step=step, attempt=attempt, worker="w1"))
        return self.do(
            FailStep(
                step=step,
                attempt=attempt,
                error_type="Boom",
                message=f"boom {attempt}",
                permanent=permanent,
            )
        )

    def status(self, step: str) -> StepStatus:
        """The status of one step."""
        return self.state.step(step).status

    def statuses(self) -> dict[str, str]:
        """Every step's status by id."""
        return {k: v.status.value for k, v in self.state.steps.items()}


def types(events: tuple[Event, ...] | list[Event]) -> list[tuple[EventType, str | None]]:
    """The (type, step) of each event."""
    return [(e.type, e.step) for e in events]


# --- start ------------------------------------------------------------------------------


def test_start_records_the_task_and_queues_the_roots() -> None:
    """start emits task_created then queues only the root step, attempt 1."""
    run = Run.begin(LINEAR)
    assert types(run.events) == [(EventType.TASK_CREATED, None), (EventType.STEP_QUEUED, "a")]
    assert run.events[1].attempt == 1
    assert run.statuses() == {"a": "READY", "b": "PENDING", "c": "PENDING"}
    assert run.state.status is TaskStatus.PENDING


def test_start_keeps_ids_config_and_version() -> None:
    """The created task carries its id, pipeline, version, config and creation time."""
    run = Run.begin(FAN_IN, {"with_review": True})
    state = run.state
    assert (state.id, state.pipeline, state.version) == ("task-1", "fan_in", 1)
    assert state.config == {"with_review": True}
    assert state.created_at == T0
    assert state.revision == len(run.events)


def test_event_seq_numbers_are_contiguous() -> None:
    """Events are numbered 1, 2, 3, ... across commands."""
    run = Run.begin(LINEAR)
    run.run_step("a")
    run.run_step("b")
    assert [e.seq for e in run.events] == list(range(1, len(run.events) + 1))


# --- linear -----------------------------------------------------------------------------


def test_linear_pipeline_runs_in_order() -> None:
    """Each step opens only when the one before completes."""
    run = Run.begin(LINEAR)
    run.do(ClaimStep(step="a", attempt=1, worker="w1"))
    assert run.state.status is TaskStatus.RUNNING
    assert run.status("a") is StepStatus.RUNNING
    events = run.do(CompleteStep(step="a", attempt=1, artifact={"k": 1}))
    assert types(events) == [(EventType.STEP_COMPLETED, "a"), (EventType.STEP_QUEUED, "b")]
    assert events[0].data == {"artifact": {"k": 1}}
    assert run.statuses() == {"a": "COMPLETED", "b": "READY", "c": "PENDING"}


def test_steps_defined_after_their_dependents_run_in_dependency_order() -> None:
    """Definition order need not follow the dependencies: a, then b, then c, and a rerun
    from a takes b and c with it."""
    run = Run.begin(BACKWARDS)
    opened = []
    for step in ("a", "b", "c"):
        opened.append([k for k, v in run.statuses().items() if v == "READY"])
        run.run_step(step)
    assert opened == [["a"], ["b"], ["c"]]
    assert run.state.status is TaskStatus.COMPLETED
    events = run.do(Rerun(step="a"))
    rerun = [e.step for e in events if e.type is EventType.STEP_RERUN]
    assert sorted(rerun) == ["a", "b", "c"]
    assert run.statuses() == {"c": "PENDING", "b": "PENDING", "a": "READY"}


def test_linear_pipeline_completes() -> None:
    """After the last step completes, the task is COMPLETED in the same transition."""
    run = Run.begin(LINEAR)
    run.run_step("a")
    run.run_step("b")
    run.run_step("c")
    assert run.state.status is TaskStatus.COMPLETED
    assert run.events[-1].type is EventType.TASK_COMPLETED
    assert run.state.error is None


def test_step_timings_come_from_now() -> None:
    """started_at and finished_at are the 'now' of the claim and the completion."""
    run = Run.begin(LINEAR)
    run.run_step("a")
    step = run.state.step("a")
    assert step.started_at == T0 + timedelta(seconds=1)
    assert step.finished_at == T0 + timedelta(seconds=2)


def test_worker_is_recorded_on_claim() -> None:
    """The step_started event names the worker."""
    run = Run.begin(LINEAR)
    (event,) = run.do(ClaimStep(step="a", attempt=1, worker="w-42"))
    assert event.type is EventType.STEP_STARTED
    assert event.data == {"worker": "w-42"}


def test_stale_claim_is_rejected() -> None:
    """Claiming a step that is not READY at that attempt raises LeaseLost."""
    run = Run.begin(LINEAR)
    run.do(ClaimStep(step="a", attempt=1, worker="w1"))
    with pytest.raises(LeaseLost):
        advance(run.spec, run.state, ClaimStep(step="a", attempt=1, worker="w2"), T0)


def test_completion_of_a_wrong_attempt_is_rejected() -> None:
    """A report for an attempt that is not the running one is discarded with LeaseLost."""
    run = Run.begin(LINEAR)
    run.do(ClaimStep(step="a", attempt=1, worker="w1"))
    with pytest.raises(LeaseLost):
        advance(run.spec, run.state, CompleteStep(step="a", attempt=2), T0)


def test_completion_of_a_pending_step_is_rejected() -> None:
    """A step that never started cannot complete."""
    run = Run.begin(LINEAR)
    with pytest.raises(LeaseLost):
        advance(run.spec, run.state, CompleteStep(step="b", attempt=0), T0)


# --- fan in -----------------------------------------------------------------------------


def test_fan_in_without_review_skips_review_and_joins() -> None:
    """with_review false: review is SKIPPED, join runs, and the task COMPLETES."""
    run = Run.begin(FAN_IN, {"with_review": False})
    run.do(ClaimStep(step="start", attempt=1, worker="w1"))
    events = run.do(CompleteStep(step="start", attempt=1))
    assert (EventType.STEP_SKIPPED, "review") in types(events)
    assert run.status("review") is StepStatus.SKIPPED
    assert "config.with_review" in (run.state.step("review").reason or "")
    run.run_step("left")
    assert run.status("join") is StepStatus.PENDING
    run.run_step("right")
    assert run.status("join") is StepStatus.READY
    run.run_step("join")
    assert run.state.status is TaskStatus.COMPLETED


def test_fan_in_with_review_waits_while_branches_finish() -> None:
    """with_review true: review waits while left and right run and finish."""
    run = Run.begin(FAN_IN, {"with_review": True})
    run.run_step("start")
    assert run.statuses() == {
        "start": "COMPLETED",
        "left": "READY",
        "right": "READY",
        "review": "WAITING_USER",
        "join": "PENDING",
    }
    run.run_step("left")
    run.run_step("right")
    assert run.state.status is TaskStatus.WAITING_USER
    assert run.status("join") is StepStatus.PENDING


def test_fan_in_join_runs_only_after_the_input() -> None:
    """with_review true: join is queued by the input submission, then the task completes."""
    run = Run.begin(FAN_IN, {"with_review": True})
    run.run_step("start")
    run.run_step("left")
    run.run_step("right")
    events = run.do(SubmitInput(step="review", input={"approved": True}, actor="ada"))
    assert types(events) == [(EventType.INPUT_SUBMITTED, "review"), (EventType.STEP_QUEUED, "join")]
    assert events[0].actor == "ada"
    run.run_step("join")
    assert run.state.status is TaskStatus.COMPLETED


def test_fan_in_input_before_branches_finish_does_not_open_join() -> None:
    """Answering the review early leaves join waiting for left and right."""
    run = Run.begin(FAN_IN, {"with_review": True})
    run.run_step("start")
    run.do(SubmitInput(step="review", input={"approved": False}))
    assert run.status("review") is StepStatus.COMPLETED
    assert run.status("join") is StepStatus.PENDING
    assert run.state.status is TaskStatus.RUNNING


def test_condition_error_fails_the_step() -> None:
    """A condition that cannot be evaluated (config without the key) fails its step."""
    run = Run.begin(FAN_IN, {})
    run.run_step("start")
    assert run.status("review") is StepStatus.FAILED
    assert (run.state.step("review").error or {}).get("type") == "ConditionError"


# --- conditions on artifacts and inputs -------------------------------------------------


def test_false_condition_on_input_skips_and_satisfies_dependents() -> None:
    """A false 'when' skips the step, and the step after it still runs."""
    run = Run.begin(REVIEW)
    run.run_step("prep", outputs={"prep": {"amount": 5}})
    run.do(SubmitInput(step="review", input={"decision": "reject", "amount": 5}))
    assert run.status("publish") is StepStatus.SKIPPED
    assert run.status("notify") is StepStatus.READY
    run.run_step("notify")
    assert run.state.status is TaskStatus.COMPLETED


def test_true_condition_on_input_runs_the_step() -> None:
    """The submitted input is visible to the next step's condition."""
    run = Run.begin(REVIEW)
    run.run_step("prep", outputs={"prep": {"amount": 5}})
    run.do(SubmitInput(step="review", input={"decision": "approve", "amount": 5}))
    assert run.status("publish") is StepStatus.READY
    assert run.status("notify") is StepStatus.PENDING


def test_prefill_comes_from_the_upstream_artifact() -> None:
    """A wait step offers its prefill, computed from the outputs passed in."""
    run = Run.begin(REVIEW)
    run.run_step("prep", outputs={"prep": {"amount": 5}})
    assert run.state.step("review").prefill == {"amount": 5}


def test_prefill_error_leaves_the_step_waiting() -> None:
    """A prefill that cannot be computed is recorded, and the step still waits."""
    run = Run.begin(REVIEW)
    run.run_step("prep")
    waiting = [e for e in run.events if e.type is EventType.STEP_WAITING]
    assert run.status("review") is StepStatus.WAITING_USER
    assert "prefill_error" in waiting[-1].data
    assert run.state.step("review").prefill is None


# --- task view --------------------------------------------------------------------------


def test_view_shows_the_required_input() -> None:
    """While a step waits, the view names it with its schema and prefill."""
    run = Run.begin(REVIEW)
    run.run_step("prep", outputs={"prep": {"amount": 5}})
    view = task_view(run.spec, run.state)
    assert view["status"] == "WAITING_USER"
    assert view["current_step"] == "review"
    required = view["required_input"]
    assert isinstance(required, dict)
    assert required["step"] == "review"
    assert required["title"] == "Approve the amount"
    assert required["schema"] == run.spec.step("review").input_schema
    assert required["prefill"] == {"amount": 5}
    assert view["waiting"] == [required]


def test_view_lists_steps_in_definition_order() -> None:
    """The view's steps follow the definition, with kind and status."""
    run = Run.begin(REVIEW)
    view = task_view(run.spec, run.state)
    steps = view["steps"]
    assert isinstance(steps, list)
    assert [(s["id"], s["type"], s["status"]) for s in steps] == [  # type: ignore[index]
        ("prep", "auto", "READY"),
        ("review", "wait_user", "PENDING"),
        ("publish", "auto", "PENDING"),
        ("notify", "auto", "PENDING"),
    ]
    assert view["current_step"] == "prep"
    assert view["required_input"] is None


def test_view_of_a_completed_task_has_no_current_step() -> None:
    """A finished task has no current step and asks for no input."""
    run = Run.begin(LINEAR)
    for step in ("a", "b", "c"):
        run.run_step(step)
    view = task_view(run.spec, run.state)
    assert (view["status"], view["current_step"], view["required_input"], view["waiting"]) == (
        "COMPLETED",
        None,
        None,
        [],
    )


def test_view_is_json() -> None:
    """The view survives a JSON round trip unchanged."""
    run = Run.begin(FAN_IN, {"with_review": True})
    run.run_step("start")
    view = task_view(run.spec, run.state)
    assert json.loads(json.dumps(view)) == view


def test_current_step_prefers_a_waiting_step() -> None:
    """A waiting step is the current step even while auto steps are queued."""
    run = Run.begin(FAN_IN, {"with_review": True})
    run.run_step("start")
    assert current_step(run.state) == "review"


# --- retries ----------------------------------------------------------------------------


def test_failed_attempt_is_requeued_with_backoff() -> None:
    """A failure with attempts left queues the next attempt with not_before = now + delay."""
    run = Run.begin(RETRYING)
    events = run.fail_step("a")
    assert types(events) == [(EventType.STEP_FAILED, "a"), (EventType.STEP_QUEUED, "a")]
    assert events[0].data["will_retry"] is True
    assert events[1].attempt == 2
    step = run.state.step("a")
    assert step.status is StepStatus.READY
    assert step.attempt == 2
    assert step.not_before == run.clock + timedelta(seconds=2)
    assert step.error == {"type": "Boom", "message": "boom 1"}


def test_backoff_doubles_up_to_the_maximum() -> None:
    """The second delay doubles (4 s) but is capped by max_delay (3 s)."""
    run = Run.begin(RETRYING)
    run.fail_step("a")
    run.fail_step("a")
    assert run.state.step("a").not_before == run.clock + timedelta(seconds=3)


def test_task_stays_running_while_a_retry_is_queued() -> None:
    """After an attempt has run, a queued retry leaves the task RUNNING, not PENDING."""
    run = Run.begin(RETRYING)
    run.fail_step("a")
    assert run.state.status is TaskStatus.RUNNING


def test_last_attempt_failure_fails_the_task() -> None:
    """When the last of max_attempts fails, the step and the task are FAILED."""
    run = Run.begin(RETRYING)
    run.fail_step("a")
    run.fail_step("a")
    events = run.fail_step("a")
    assert types(events) == [(EventType.STEP_FAILED, "a"), (EventType.TASK_FAILED, None)]
    assert events[0].data["will_retry"] is False
    assert run.status("a") is StepStatus.FAILED
    assert run.state.step("a").attempt == 3
    assert run.state.status is TaskStatus.FAILED
    assert run.state.error == "step 'a' failed: boom 3"
    assert run.status("b") is StepStatus.PENDING


def test_permanent_failure_skips_the_retries() -> None:
    """permanent=True fails the step at once, with attempts left."""
    run = Run.begin(RETRYING)
    events = run.fail_step("a", permanent=True)
    assert types(events) == [(EventType.STEP_FAILED, "a"), (EventType.TASK_FAILED, None)]
    assert run.state.status is TaskStatus.FAILED
    assert run.state.step("a").attempt == 1


def test_default_policy_does_not_retry() -> None:
    """Without a retry policy, the first failure is final."""
    run = Run.begin(LINEAR)
    run.fail_step("a")
    assert run.state.status is TaskStatus.FAILED


def test_failed_branch_waits_for_running_siblings() -> None:
    """A failed step does not fail the task while another step is still running."""
    run = Run.begin(BRANCHES)
    run.run_step("root")
    run.do(ClaimStep(step="good", attempt=1, worker="w1"))
    run.fail_step("bad")
    assert run.status("bad") is StepStatus.FAILED
    assert run.state.status is TaskStatus.RUNNING
    run.do(CompleteStep(step="good", attempt=1))
    assert run.state.status is TaskStatus.FAILED
    assert run.status("after_bad") is StepStatus.PENDING


def test_expired_lease_requeues_the_step() -> None:
    """An expired lease records the loss and queues the next attempt."""
    run = Run.begin(LINEAR)
    run.do(ClaimStep(step="a", attempt=1, worker="w1"))
    events = run.do(ExpireLease(step="a", attempt=1))
    assert types(events) == [(EventType.LEASE_EXPIRED, "a"), (EventType.STEP_QUEUED, "a")]
    assert run.status("a") is StepStatus.READY
    assert run.state.step("a").attempt == 2


# --- the Retry command ------------------------------------------------------------------


def test_retry_resumes_only_the_failed_steps() -> None:
    """Retry on a FAILED task resets and requeues the failed step; completed ones stay."""
    run = Run.begin(BRANCHES)
    run.run_step("root")
    run.run_step("good")
    run.fail_step("bad")
    assert run.state.status is TaskStatus.FAILED
    events = run.do(Retry(actor="op"))
    assert types(events) == [
        (EventType.TASK_RETRIED, None),
        (EventType.STEP_RESET, "bad"),
        (EventType.STEP_QUEUED, "bad"),
    ]
    assert events[0].actor == "op"
    assert run.statuses() == {
        "root": "COMPLETED",
        "good": "COMPLETED",
        "bad": "READY",
        "after_bad": "PENDING",
    }
    assert run.state.step("bad").attempt == 2
    assert run.state.error is None


def test_retried_task_can_complete() -> None:
    """After a retry the task runs on to COMPLETED."""
    run = Run.begin(BRANCHES)
    run.run_step("root")
    run.run_step("good")
    run.fail_step("bad")
    run.do(Retry())
    run.run_step("bad")
    run.run_step("after_bad")
    assert run.state.status is TaskStatus.COMPLETED
    assert run.state.step("root").attempt == 1


def test_retry_makes_the_task_running() -> None:
    """A retried task is RUNNING again (FAILED --retry--> RUNNING)."""
    run = Run.begin(BRANCHES)
    run.run_step("root")
    run.run_step("good")
    run.fail_step("bad")
    run.do(Retry())
    assert run.state.status is TaskStatus.RUNNING


def test_retry_of_a_failed_root_step_makes_the_task_running() -> None:
    """Retrying a task whose first step failed gives RUNNING, not PENDING (it has started)."""
    run = Run.begin(LINEAR)
    run.fail_step("a")
    run.do(Retry())
    assert run.state.status is TaskStatus.RUNNING


def test_retry_of_a_live_task_is_invalid() -> None:
    """Retry applies only to FAILED tasks: a running one raises InvalidCommand."""
    run = Run.begin(LINEAR)
    run.run_step("a")
    with pytest.raises(InvalidCommand):
        advance(run.spec, run.state, Retry(), T0)


def test_retry_of_a_completed_task_is_rejected_as_finished() -> None:
    """A COMPLETED task cannot be retried: TaskFinished."""
    run = Run.begin(LINEAR)
    for step in ("a", "b", "c"):
        run.run_step(step)
    with pytest.raises(TaskFinished):
        advance(run.spec, run.state, Retry(), T0)


# --- cancel -----------------------------------------------------------------------------


def test_cancel_cancels_open_and_pending_steps() -> None:
    """Cancel marks every unfinished step CANCELLED and the task CANCELLED."""
    run = Run.begin(FAN_IN, {"with_review": True})
    run.run_step("start")
    run.run_step("left")
    events = run.do(Cancel(actor="op", reason="not needed"))
    assert types(events)[-1] == (EventType.TASK_CANCELLED, None)
    assert run.statuses() == {
        "start": "COMPLETED",
        "left": "COMPLETED",
        "right": "CANCELLED",
        "review": "CANCELLED",
        "join": "CANCELLED",
    }
    assert run.state.status is TaskStatus.CANCELLED
    assert run.state.error == "not needed"
    assert run.state.step("join").reason == "not needed"


def test_cancelled_task_rejects_everything() -> None:
    """After cancel, submit, claim, cancel and retry are all rejected."""
    run = Run.begin(FAN_IN, {"with_review": True})
    run.run_step("start")
    run.do(Cancel())
    for command in (
        SubmitInput(step="review", input={"approved": True}),
        ClaimStep(step="left", attempt=1, worker="w1"),
        Cancel(),
        Retry(),
    ):
        with pytest.raises(TaskFinished):
            advance(run.spec, run.state, command, T0)


def test_a_failed_task_can_be_given_up_for_good() -> None:
    """Cancel turns a FAILED task CANCELLED; then neither retry nor cancel applies."""
    run = Run.begin(LINEAR)
    run.fail_step("a")
    state = advance(run.spec, run.state, Cancel(), T0).state
    assert state.status is TaskStatus.CANCELLED
    for command in (Cancel(), Retry()):
        with pytest.raises(TaskFinished):
            advance(run.spec, state, command, T0)


# --- rejected input ---------------------------------------------------------------------


def waiting_review() -> Run:
    """A REVIEW task waiting at review."""
    run = Run.begin(REVIEW)
    run.run_step("prep", outputs={"prep": {"amount": 5}})
    return run


def test_submit_to_a_step_that_is_not_waiting() -> None:
    """Answering a step that is not waiting raises StepNotWaiting naming what waits."""
    run = waiting_review()
    with pytest.raises(StepNotWaiting) as info:
        advance(run.spec, run.state, SubmitInput(step="prep", input={}), T0)
    assert info.value.details["waiting"] == ["review"]
    assert info.value.details["step_status"] == "COMPLETED"


def test_submit_to_an_already_answered_step() -> None:
    """Answering the same wait step twice is rejected the second time."""
    run = waiting_review()
    run.do(SubmitInput(step="review", input={"decision": "reject", "amount": 1}))
    with pytest.raises(StepNotWaiting):
        advance(
            run.spec,
            run.state,
            SubmitInput(step="review", input={"decision": "approve", "amount": 1}),
            T0,
        )


def test_submit_to_an_unknown_step() -> None:
    """Answering a step the pipeline does not have raises StepNotFound."""
    run = waiting_review()
    with pytest.raises(StepNotFound):
        advance(run.spec, run.state, SubmitInput(step="nosuch", input={}), T0)


def test_invalid_input_lists_json_pointers() -> None:
    """Input that breaks the schema raises InputInvalid with a pointer per violation."""
    run = waiting_review()
    with pytest.raises(InputInvalid) as info:
        advance(run.spec, run.state, SubmitInput(step="review", input={"decision": "maybe"}), T0)
    pointers = {v.pointer for v in info.value.violations}
    assert pointers == {"/amount", "/decision"}
    assert any("required" in v.message for v in info.value.violations if v.pointer == "/amount")


def test_invalid_input_type_is_pointed_at() -> None:
    """A wrongly typed field is reported at its own pointer."""
    run = waiting_review()
    with pytest.raises(InputInvalid) as info:
        advance(
            run.spec,
            run.state,
            SubmitInput(step="review", input={"decision": "approve", "amount": -3}),
            T0,
        )
    assert [v.pointer for v in info.value.violations] == ["/amount"]


def test_submit_to_a_finished_task() -> None:
    """Any step command on a COMPLETED task raises TaskFinished."""
    run = Run.begin(LINEAR)
    for step in ("a", "b", "c"):
        run.run_step(step)
    with pytest.raises(TaskFinished):
        advance(run.spec, run.state, SubmitInput(step="a", input={}), T0)
    with pytest.raises(TaskFinished):
        advance(run.spec, run.state, Cancel(), T0)


def rejected_commands() -> list[Command]:
    """Commands a task waiting at review must reject."""
    return [
        SubmitInput(step="prep", input={}),
        SubmitInput(step="nosuch", input={}),
        SubmitInput(step="review", input={"decision": "maybe"}),
        SubmitInput(step="review", input=None),
        ClaimStep(step="publish", attempt=1, worker="w1"),
        CompleteStep(step="prep", attempt=1),
        FailStep(step="prep", attempt=1, error_type="E", message="m"),
        ExpireLease(step="review", attempt=1),
        Retry(),
    ]


@pytest.mark.parametrize("command", rejected_commands(), ids=lambda c: type(c).__name__)
def test_rejected_command_changes_nothing(command: Command) -> None:
    """A rejected command raises and leaves the state exactly as it was."""
    run = waiting_review()
    before = TaskState.from_json(run.state.to_json())
    steps_before = dict(run.state.steps)
    with pytest.raises((UserError, LeaseLost)):
        advance(run.spec, run.state, command, T0 + timedelta(hours=1))
    assert run.state == before
    assert dict(run.state.steps) == steps_before
    assert replay(run.events) == before
