"""``/tasks``: start, read, advance, cancel, retry; events, artifacts and a live stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel
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
from segue.api.problems import ApiProblem
from segue.core.commands import Cancel, Retry
from segue.core.states import TaskStatus
from segue.encoding import request_hash
from segue.errors import PipelineNotFound, StepNotFound, StepNotWaiting, TaskFinished
from segue.service import Idempotency
from segue.types import cut

router = APIRouter(prefix="/tasks", tags=["tasks"])

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=40)]
SSE_POLL_S = 0.25
SSE_BATCH = 500
MAX_INT = 2**31 - 1
SSE_KEEPALIVE_S = 15.0
ID_PREFIX = r"^[0-9A-Fa-f-]+$"


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a JSON request body read by ``parse`` (not by FastAPI)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _etag(view: dict[str, Any]) -> dict[str, str]:
    return {"ETag": f'"{view["revision"]}"'}


@router.post(
    "",
    status_code=201,
    response_model=models.TaskView,
    responses=models.PROBLEMS,
    openapi_extra=json_body(models.StartTask),
)
async def start_task(request: Request, key: IdempotencyKey = None) -> JSONResponse:
    """Start a task (latest version unless one is named); config is checked and defaulted."""
    api, caller = api_of(request), caller_of(request)
    require(caller, "operator", "start tasks")
    body: models.StartTask = await parse(request, models.StartTask)
    if not caller.sees(body.pipeline):
        raise PipelineNotFound(f"No pipeline {body.pipeline} is registered; register it first.")
    idem = None
    if key:
        canonical = {**body.model_dump(), "config": body.config or {}}  # absent config == {}
        idem = Idempotency(f"{caller.name}:start", key, request_hash(canonical))
    view = await run_in_threadpool(
        partial(
            api.service.start,
            body.pipeline,
            body.config,
            version=body.version,
            actor=caller.name,
            idempotency=idem,
        )
    )
    view = decorate(api, caller, view)
    headers = {"Location": f"/tasks/{view['id']}", **_etag(view)}
    return JSONResponse(view, status_code=201, headers=headers)


@router.get("", response_model=models.TaskPage, responses=models.PROBLEMS)
def list_tasks(
    request: Request,
    status: TaskStatus | None = None,
    pipeline: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    id: Annotated[
        str | None,
        Query(
            max_length=36,
            pattern=ID_PREFIX,
            description="Only tasks whose id starts with this (an id or its first characters).",
        ),
    ] = None,
) -> dict[str, Any]:
    """Tasks newest first, a page at a time (keyset pagination: stable under inserts)."""
    api, caller = api_of(request), caller_of(request)
    if pipeline is not None and not caller.sees(pipeline):
        return {"tasks": [], "next_cursor": None}
    views, next_cursor = [], cursor
    while True:
        page = api.service.list_tasks(
            status=status.value if status else None,
            pipeline=pipeline,
            limit=limit,
            cursor=next_cursor,
            id_prefix=id.lower() if id else None,
        )
        views += [
            decorate(api, caller, api.service.view_of(t))
            for t in page.tasks
            if caller.sees(t.pipeline)
        ]
        next_cursor = page.next_cursor
        if len(views) >= limit or next_cursor is None or caller.pipelines is None:
            break
    return {"tasks": views[:limit], "next_cursor": next_cursor}


@router.get("/counts", response_model=models.TaskCounts, responses=models.PROBLEMS)
def count_tasks(
    request: Request, pipeline: Annotated[str | None, Query(max_length=100)] = None
) -> dict[str, Any]:
    """How many tasks there are in each status (of one pipeline if named), for the caller."""
    api, caller = api_of(request), caller_of(request)
    counts = dict.fromkeys((s.value for s in TaskStatus), 0)
    if pipeline is None or caller.sees(pipeline):
        for (name, status), n in api.service.count_tasks(pipeline=pipeline).items():
            if caller.sees(name):
                counts[status] = counts.get(status, 0) + n
    return {"counts": counts, "total": sum(counts.values())}


@router.get("/{task_id}", response_model=models.TaskView, responses=models.PROBLEMS)
async def get_task(request: Request, task_id: str) -> JSONResponse:
    """Status, current step, the input it needs (schema and prefill), every step.

    The hottest read of all runs on the event loop: one indexed row of an
    embedded database costs less than the hand-off to a thread would.
    """
    api, caller = api_of(request), caller_of(request)
    view = decorate(api, caller, api.service.view_of(visible_task(api, caller, task_id)))
    return JSONResponse(view, headers=_etag(view))


@router.post(
    "/{task_id}/advance",
    response_model=models.TaskView,
    responses=models.PROBLEMS,
    openapi_extra=json_body(models.Advance),
)
async def advance_task(
    request: Request, task_id: str, key: IdempotencyKey = None, if_match: IfMatch = None
) -> JSONResponse:
    """Submit a person's input for a waiting step; the backend then pushes the task on.

    409 when the step is not waiting (the body carries the task as it is now),
    422 when the input breaks the step's schema (each error with its JSON pointer),
    412 when ``If-Match`` names an old revision. A rejected advance changes nothing.
    """
    api, caller = api_of(request), caller_of(request)
    require(caller, "operator", "answer wait steps")
    body: models.Advance = await parse(request, models.Advance)
    state = await run_in_threadpool(visible_task, api, caller, task_id)
    check_may_answer(api, caller, state, body.step)
    expected = _revision(if_match)
    idem = None
    if key:
        idem = Idempotency(f"{caller.name}:advance", key, request_hash(task_id, body.model_dump()))
    try:
        view = await run_in_threadpool(
            partial(
                api.service.advance,
                task_id,
                body.step,
                body.input,
                actor=caller.name,
                expected_revision=expected,
                idempotency=idem,
            )
        )
    except (StepNotWaiting, TaskFinished) as exc:
        now = await run_in_threadpool(api.service.view, task_id)
        exc.details["task"] = decorate(api, caller, now)
        raise
    view = decorate(api, caller, view)
    return JSONResponse(view, headers=_etag(view))


def _revision(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    text = if_match.strip().strip('"')
    if not text.isdigit():
        raise ApiProblem(
            400,
            "bad_if_match",
            'If-Match must be the task\'s ETag, a revision number in quotes such as "7".',
        )
    return int(text)


@router.post("/{task_id}/cancel", response_model=models.TaskView, responses=models.PROBLEMS)
async def cancel_task(request: Request, task_id: str, key: IdempotencyKey = None) -> dict[str, Any]:
    """Cancel a task that has not finished (admin)."""
    api, caller = api_of(request), caller_of(request)
    require(caller, "admin", "cancel tasks")
    reason = None
    if await request.body():
        reason = (await parse(request, models.Reason)).reason
    await run_in_threadpool(visible_task, api, caller, task_id)
    command = Cancel(actor=caller.name, reason=reason)
    idem = Idempotency(f"{caller.name}:cancel", key, request_hash(task_id, reason)) if key else None
    view = await run_in_threadpool(api.service.control, task_id, command, idem)
    return decorate(api, caller, view)


@router.post("/{task_id}/retry", response_model=models.TaskView, responses=models.PROBLEMS)
async def retry_task(request: Request, task_id: str, key: IdempotencyKey = None) -> dict[str, Any]:
    """Resume a FAILED task: failed steps get a new attempt, finished steps stay (admin)."""
    api, caller = api_of(request), caller_of(request)
    require(caller, "admin", "retry tasks")
    if await request.body():
        await parse(request, models.Empty)
    await run_in_threadpool(visible_task, api, caller, task_id)
    idem = Idempotency(f"{caller.name}:retry", key, request_hash(task_id)) if key else None
    view = await run_in_threadpool(api.service.control, task_id, Retry(actor=caller.name), idem)
    return decorate(api, caller, view)


@router.get("/{task_id}/events", response_model=models.EventPage, responses=models.PROBLEMS)
def task_events(
    request: Request,
    task_id: str,
    after: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """The audit log: every change, with actor and time, in order."""
    api, caller = api_of(request), caller_of(request)
    visible_task(api, caller, task_id)
    events = api.service.events(task_id, after, limit + 1)
    more = len(events) > limit
    events = events[:limit]
    return {"events": [e.to_json() for e in events], "next_after": events[-1].seq if more else None}


@router.get(
    "/{task_id}/artifacts", response_model=list[models.ArtifactView], responses=models.PROBLEMS
)
def task_artifacts(
    request: Request, task_id: str, all_attempts: bool = False
) -> list[dict[str, Any]]:
    """The current artifact of each step (every attempt's with ``all_attempts=true``)."""
    api, caller = api_of(request), caller_of(request)
    visible_task(api, caller, task_id)
    found = api.service.artifacts(task_id, current_only=not all_attempts)
    return [a.listing() for a in found]


@router.get("/{task_id}/artifacts/{step}", responses=models.PROBLEMS)
def task_artifact(
    request: Request,
    task_id: str,
    step: str,
    attempt: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
) -> Response:
    """A step's artifact itself: its JSON, or its file with its content type (ETag = sha256)."""
    api, caller = api_of(request), caller_of(request)
    state = visible_task(api, caller, task_id)
    if step not in state.steps:
        raise StepNotFound(
            f"Task {task_id} ({state.pipeline} v{state.version}) has no step '{cut(step)}'.",
            task_id=task_id,
            step=step,
            steps=list(state.steps),
        )
    found = api.service.artifacts(task_id, step, current_only=attempt is None)
    if attempt is not None:
        found = [a for a in found if a.attempt == attempt]
    if not found:
        which = f"attempt {attempt} of step '{step}'" if attempt else f"step '{step}'"
        raise ApiProblem(
            404,
            "artifact_not_found",
            f"Task {task_id} has no artifact for {which}.",
            task_id=task_id,
            step=step,
            attempt=attempt,
        )
    artifact = found[-1]
    headers = {"ETag": f'"{artifact.sha256}"'}
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    if artifact.kind == "json":
        return Response(
            json.dumps(artifact.value, ensure_ascii=False),
            media_type=artifact.content_type,
            headers=headers,
        )
    path = api.service.store.blobs.path(artifact.sha256)  # type: ignore[attr-defined]
    return StreamingResponse(
        _file_chunks(path),
        media_type=artifact.content_type,
        headers={**headers, "Content-Length": str(artifact.size)},
    )


async def _file_chunks(path: Any) -> AsyncIterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := await run_in_threadpool(fh.read, 64 * 1024):
            yield chunk


@router.get(
    "/{task_id}/stream",
    responses={200: {"content": {"text/event-stream": {}}}, **models.PROBLEMS},
)
async def task_stream(
    request: Request,
    task_id: str,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Server-Sent Events: every new event of the task; resumes after ``Last-Event-ID``."""
    api, caller = api_of(request), caller_of(request)
    await run_in_threadpool(visible_task, api, caller, task_id)
    after = 0
    if last_event_id:
        if not last_event_id.isdigit() or int(last_event_id) > MAX_INT:
            raise ApiProblem(
                400,
                "bad_last_event_id",
                "Last-Event-ID must be the id of an event this stream sent (a sequence number).",
            )
        after = int(last_event_id)
    return StreamingResponse(
        _events(request, task_id, after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(request: Request, task_id: str, after: int) -> AsyncIterator[str]:
    api = api_of(request)
    idle = 0.0
    yield "retry: 2000\n\n"
    while not await request.is_disconnected():
        # Status first: if the task had finished before this read of the events, the
        # batch holds its last event, and the stream may end after sending it.
        status = await run_in_threadpool(api.service.status, task_id)
        events = await run_in_threadpool(api.service.events, task_id, after, SSE_BATCH)
        for event in events:
            after = event.seq
            data = json.dumps(event.to_json(), ensure_ascii=False)
            yield f"id: {event.seq}\nevent: {event.type.value}\ndata: {data}\n\n"
        if status in (TaskStatus.COMPLETED, TaskStatus.CANCELLED) and len(events) < SSE_BATCH:
            return
        if events:
            idle = 0.0
            continue
        await asyncio.sleep(SSE_POLL_S)
        idle += SSE_POLL_S
        if idle >= SSE_KEEPALIVE_S:
            idle = 0.0
            yield ": keep-alive\n\n"
