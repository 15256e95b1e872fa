"""Request and response shapes (pydantic lives here, and only here).

Request models forbid unknown fields: a typo in a field name is a 422, not
silently ignored. Response models document the JSON the API returns.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue


class Strict(BaseModel):
    """Unknown fields are errors."""

    model_config = ConfigDict(extra="forbid")


class StartTask(Strict):
    """Start a task of a registered pipeline."""

    pipeline: str = Field(min_length=1, max_length=100)
    version: int | None = Field(
        default=None, ge=1, le=2**31 - 1, strict=True, description="Latest version when absent."
    )
    config: dict[str, JsonValue] | None = Field(
        default=None, description="Task parameters, checked against the pipeline's config schema."
    )


class Advance(Strict):
    """Answer the wait step ``step`` with ``input``."""

    step: str = Field(min_length=1, max_length=64)
    input: JsonValue = Field(description="Checked against the step's input_schema.")


class Empty(Strict):
    """No fields."""


class Reason(Strict):
    """An optional reason, recorded on the event."""

    reason: str | None = Field(default=None, max_length=2000)


class Rerun(Strict):
    """Run ``step`` and everything downstream again (a new generation)."""

    step: str = Field(min_length=1, max_length=64)
    input: JsonValue = Field(
        default=None,
        description="For a wait step: answer it at once. Absent: it waits again, "
        "with the last input as the prefill.",
    )
    reason: str | None = Field(default=None, max_length=2000)


class Migrate(Strict):
    """Move the task to another registered version of its pipeline."""

    to_version: int = Field(ge=1, le=2**31 - 1, strict=True)
    step_map: dict[str, str] | None = Field(
        default=None, description="Old step id -> new step id, for steps that were renamed."
    )
    reason: str | None = Field(default=None, max_length=2000)


class Fork(Strict):
    """Start a new task from this task's state after event ``at_seq``."""

    at_seq: int = Field(ge=1, le=2**31 - 1, strict=True)


class RequiredInput(BaseModel):
    """What a waiting step asks for."""

    step: str
    title: str
    description: str | None
    schema_: dict[str, Any] | bool = Field(alias="schema")
    prefill: JsonValue
    can_answer: bool = Field(description="Whether the caller's token may answer this step.")


class StepView(BaseModel):
    """One step of a task."""

    id: str
    type: Literal["auto", "wait_user"]
    title: str | None
    status: Literal[
        "PENDING", "READY", "RUNNING", "WAITING_USER", "COMPLETED", "SKIPPED", "FAILED", "CANCELLED"
    ]
    attempt: int
    started_at: str | None
    finished_at: str | None
    error: dict[str, Any] | None
    reason: str | None


class TaskView(BaseModel):
    """The task view: everything a front end needs to render the current step."""

    id: str
    pipeline: str
    version: int
    status: Literal["PENDING", "RUNNING", "WAITING_USER", "COMPLETED", "FAILED", "CANCELLED"]
    current_step: str | None
    required_input: RequiredInput | None
    waiting: list[RequiredInput]
    steps: list[StepView]
    config: dict[str, Any]
    revision: int
    created_at: str
    updated_at: str
    error: str | None
    allowed_actions: list[Literal["advance", "cancel", "retry", "rerun", "skip", "fork", "migrate"]]


class TaskPage(BaseModel):
    """A page of tasks, newest first."""

    tasks: list[TaskView]
    next_cursor: str | None


class TaskCounts(BaseModel):
    """How many tasks the caller can see in each status."""

    counts: dict[str, int] = Field(description="Every status, zero included.")
    total: int


class Me(BaseModel):
    """Who the bearer token belongs to, and what it may do."""

    name: str
    role: str = Field(description="viewer < operator < admin")
    roles: list[str] = Field(description="The extra roles wait steps may require.")
    pipelines: list[str] | None = Field(description="The pipelines it sees; null: every one.")
    auth: bool = Field(description="Whether this server checks tokens at all.")


class EventView(BaseModel):
    """One entry of the audit log."""

    seq: int
    type: str
    at: str
    step: str | None
    attempt: int | None
    actor: str | None
    data: dict[str, Any]


class EventPage(BaseModel):
    """A page of events; ask again with ``after=next_after`` for more."""

    events: list[EventView]
    next_after: int | None


class ArtifactView(BaseModel):
    """One artifact: its reference, and its value when it is small JSON."""

    step: str
    attempt: int
    generation: int
    current: bool
    kind: Literal["json", "blob"]
    sha256: str
    size: int
    content_type: str
    created_at: str
    value: JsonValue = None
    meta: dict[str, Any] | None = None


class History(BaseModel):
    """A task as it was right after event ``at``, rebuilt from its event log."""

    at: int
    revision: int = Field(description="The task's revision now.")
    event: dict[str, Any] = Field(description="Event ``at`` itself.")
    task: dict[str, Any] = Field(description="The task view of then (no allowed_actions).")
    artifacts: list[ArtifactView] = Field(description="The artifacts current at that moment.")


class PipelineVersion(BaseModel):
    """A registered pipeline version."""

    pipeline: str
    version: int
    hash: str
    registered_at: str


class StepOutline(BaseModel):
    """One step of a version, its dependencies resolved (a line unless ``depends_on`` says)."""

    id: str
    type: Literal["auto", "wait_user"]
    title: str | None
    description: str | None
    depends_on: list[str]
    when: str | None = Field(description="The CEL condition, if the step has one.")


class PipelineDetail(PipelineVersion):
    """A version with its definition and its graph."""

    title: str | None
    description: str | None
    config_schema: dict[str, Any] = Field(description="The JSON Schema of a task's config.")
    steps: list[StepOutline]
    definition: dict[str, Any]
    mermaid: str


class Registered(PipelineVersion):
    """The outcome of registering a definition."""

    created: bool


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None


PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {"application/problem+json": {}}}
    for status in (400, 401, 403, 404, 409, 412, 413, 422)
}
