"""Operator controls: rerun from a step, skip a step, time travel, fork.

Every control is an event with the caller as its actor; the writes honour
``Idempotency-Key`` like starting and advancing do.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from segue.api import models
from segue.api.context import (
    api_of,
    caller_of,
    check_may_answer,
    decorate,
    parse,
    require,
    visible_task,
)
from segue.api.tasks import MAX_INT, IdempotencyKey, json_body
from segue.encoding import request_hash
from segue.service import UNSET, Idempotency

router = APIRouter(prefix="/tasks", tags=["control"])


def _idempotency(name: str, key: str | None, *parts: Any) -> Idempotency | None:
    return Idempotency(name, key, request_hash(*parts)) if key else None


@router.post(
    "/{task_id}/rerun",
    response_model=models.TaskView,
    responses=models.PROBLEMS,
    openapi_extra=json_body(models.Rerun),
)
async def rerun_task(request: Request, task_id: str, key: IdempotencyKey = None) -> Any:
    """Run a step and everything downstream again (operator); re-confirm a wait step."""
    api, caller = api_of(request), caller_of(request)
    require(caller, "operator", "rerun steps")
    body: models.Rerun = await parse(request, models.Rerun)
    state = await run_in_threadpool(visible_task, api, caller, task_id)
    given = "input" in body.model_fields_set
    if given:  # answering a wait step this way needs what answering it needs
        check_may_answer(api, caller, state, body.step, only_if_waiting=False)
    idem = _idempotency(f"{caller.name}:rerun", key, task_id, body.model_dump(), given)
    view = await run_in_threadpool(
        partial(
            api.service.rerun,
            task_id,
            body.step,
            input=body.input if given else UNSET,
            actor=caller.name,
            reason=body.reason,
            idempotency=idem,
        )
    )
    return decorate(api, caller, view)


@router.post(
    "/{task_id}/steps/{step}/skip",
    response_model=models.TaskView,
    responses=models.PROBLEMS,
)
async def skip_step(request: Request, task_id: str, step: str, key: IdempotencyKey = None) -> Any:
    """Skip a FAILED or waiting step so its dependents proceed (admin)."""
    api, caller = api_of(request), caller_of(request)
    require(caller, "admin", "skip steps")
    reason = (await parse(request, models.Reason)).reason if await request.body() else None
    await run_in_threadpool(visible_task, api, caller, task_id)
    idem = _idempotency(f"{caller.name}:skip", key, task_id, step, reason)
    view = await run_in_threadpool(
        partial(api.service.skip, task_id, step, actor=caller.name, reason=reason, idempotency=idem)
    )
    return decorate(api, caller, view)


@router.post(
    "/{task_id}/migrate",
    response_model=models.TaskView,
    responses=models.PROBLEMS,
    openapi_extra=json_body(models.Migrate),
)
async def migrate_task(request: Request, task_id: str, key: IdempotencyKey = None) -> Any:
    """Move a task to another version (admin); 409 lists every reason it cannot move."""
    api, caller = api_of(request), caller_of(request)
    require(caller, "admin", "migrate tasks")
    body: models.Migrate = await parse(request, models.Migrate)
    await run_in_threadpool(visible_task, api, caller, task_id)
    idem = _idempotency(f"{caller.name}:migrate", key, task_id, body.model_dump())
    view = await run_in_threadpool(
        partial(
            api.service.migrate,
            task_id,
            body.to_version,
            step_map=body.step_map,
            actor=caller.name,
            reason=body.reason,
            idempotency=idem,
        )
    )
    return decorate(api, caller, view)


@router.get("/{task_id}/history", response_model=models.History, responses=models.PROBLEMS)
def task_history(
    request: Request, task_id: str, at: Annotated[int, Query(ge=1, le=MAX_INT)]
) -> dict[str, Any]:
    """The task as it was right after event ``at``, with the artifacts current then."""
    api, caller = api_of(request), caller_of(request)
    visible_task(api, caller, task_id)
    return api.service.history(task_id, at)


@router.post(
    "/{task_id}/fork",
    status_code=201,
    response_model=models.TaskView,
    responses=models.PROBLEMS,
    openapi_extra=json_body(models.Fork),
)
async def fork_task(request: Request, task_id: str, key: IdempotencyKey = None) -> JSONResponse:
    """A new task from this one's state after event ``at_seq`` (operator)."""
    api, caller = api_of(request), caller_of(request)
    require(caller, "operator", "fork tasks")
    body: models.Fork = await parse(request, models.Fork)
    await run_in_threadpool(visible_task, api, caller, task_id)
    idem = _idempotency(f"{caller.name}:fork", key, task_id, body.at_seq)
    view = await run_in_threadpool(
        partial(api.service.fork, task_id, body.at_seq, actor=caller.name, idempotency=idem)
    )
    view = decorate(api, caller, view)
    return JSONResponse(view, status_code=201, headers={"Location": f"/tasks/{view['id']}"})
