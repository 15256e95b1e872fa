"""What every route needs: the service, the caller, the limits, and shared checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from pydantic import BaseModel, ValidationError

from segue.api.auth import ANONYMOUS, Caller, Tokens
from segue.api.body import Limits, read_json
from segue.api.problems import ApiProblem
from segue.core.states import StepStatus, TaskStatus
from segue.core.task import TaskState
from segue.errors import TaskNotFound
from segue.service import Service
from segue.types import cut, pointer_part


@dataclass(frozen=True, slots=True)
class Api:
    """The state of one API process."""

    service: Service
    tokens: Tokens
    limits: Limits


def api_of(request: Request) -> Api:
    """The API state of the app serving ``request``."""
    api: Api = request.app.state.api
    return api


def caller_of(request: Request) -> Caller:
    """The caller a request's bearer token names (401 without a valid one)."""
    api = api_of(request)
    if not api.tokens.enabled:
        return ANONYMOUS
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiProblem(
            401,
            "unauthorized",
            "This server needs a bearer token: send 'Authorization: Bearer <token>'.",
        )
    caller = api.tokens.find(secret.strip())
    if caller is None:
        raise ApiProblem(401, "unauthorized", "The bearer token is not known to this server.")
    return caller


def require(caller: Caller, role: str, what: str) -> None:
    """403 unless the caller holds ``role`` or above."""
    if not caller.at_least(role):
        raise ApiProblem(
            403,
            "forbidden",
            f"Token '{caller.name}' ({caller.role}) may not {what}; that needs the {role} role.",
            required_role=role,
        )


def visible_task(api: Api, caller: Caller, task_id: str) -> TaskState:
    """The task, or 404 if it does not exist *or* the caller may not see its pipeline."""
    state = api.service.get(task_id)
    if not caller.sees(state.pipeline):
        raise TaskNotFound(f"No task has id '{cut(task_id)}'.", task_id=task_id)
    return state


async def parse(request: Request, model: type[BaseModel]) -> Any:
    """Read and validate a JSON body against ``model`` (422 with pointers when it breaks it)."""
    api = api_of(request)
    value = await read_json(request, api.limits)
    if not isinstance(value, dict):
        fields = ", ".join(model.model_fields)
        raise ApiProblem(
            422,
            "request_invalid",
            f"The request body must be a JSON object (fields: {fields or 'none'}).",
            errors=[{"pointer": "", "message": "expected an object"}],
        )
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        errors = [
            {"pointer": "".join(f"/{pointer_part(p)}" for p in e["loc"]), "message": _plain(e)}
            for e in exc.errors()
        ]
        first = errors[0]
        where = f"{first['pointer']}: " if first["pointer"] else ""
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ApiProblem(
            422,
            "request_invalid",
            f"The request body does not have the expected fields: {where}{first['message']}{more}.",
            errors=errors,
        ) from exc


def _plain(error: Any) -> str:
    """The message pydantic gives, except where it speaks of parsing raw data."""
    if error["type"] == "string_unicode":
        return "it holds a lone surrogate, which is not text"
    return str(error["msg"])


def decorate(api: Api, caller: Caller, view: dict[str, Any]) -> dict[str, Any]:
    """Add what this caller may do: ``allowed_actions``, and ``can_answer`` per wait step."""
    spec = api.service.spec(view["pipeline"], view["version"])
    status = TaskStatus(view["status"])
    operator = caller.at_least("operator")
    answerable = False
    for entry in view["waiting"]:
        entry["can_answer"] = operator and caller.holds(spec.step(entry["step"]).roles)
        answerable = answerable or entry["can_answer"]
    if view["required_input"] is not None:
        view["required_input"] = next(
            w for w in view["waiting"] if w["step"] == view["required_input"]["step"]
        )
    actions = []
    if answerable and not status.terminal:
        actions.append("advance")
    open_or_failed = status not in (TaskStatus.COMPLETED, TaskStatus.CANCELLED)
    if caller.at_least("admin") and open_or_failed:
        actions.append("cancel")
    if caller.at_least("admin") and status is TaskStatus.FAILED:
        actions.append("retry")
    if operator and status is not TaskStatus.CANCELLED:
        actions.append("rerun")
    if operator:
        actions.append("fork")
    skippable = any(s["status"] in ("FAILED", "WAITING_USER") for s in view["steps"])
    if caller.at_least("admin") and skippable and status is not TaskStatus.CANCELLED:
        actions.append("skip")
    if caller.at_least("admin") and open_or_failed:
        actions.append("migrate")
    view["allowed_actions"] = actions
    return view


def check_may_answer(
    api: Api, caller: Caller, state: TaskState, step: str, *, only_if_waiting: bool = True
) -> None:
    """403 when the step names roles the caller does not hold (and it waits, by default)."""
    spec = api.service.spec(state.pipeline, state.version)
    if not spec.has_step(step):
        return  # the service answers 404 for an unknown step
    roles = spec.step(step).roles
    waiting = state.steps[step].status is StepStatus.WAITING_USER
    if (waiting or not only_if_waiting) and not caller.holds(roles):
        raise ApiProblem(
            403,
            "forbidden",
            f"Step '{step}' may only be answered by "
            f"{', '.join(roles)}; token '{caller.name}' holds none of them.",
            required_roles=list(roles),
        )
