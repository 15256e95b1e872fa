"""``/pipelines``: register definitions and read registered versions."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from segue.api import models
from segue.api.body import read_body
from segue.api.context import api_of, caller_of, require
from segue.api.problems import ApiProblem
from segue.errors import PipelineNotFound
from segue.spec import to_mermaid
from segue.store.base import PipelineRecord
from segue.types import cut

router = APIRouter(prefix="/pipelines", tags=["pipelines"])
MAX_INT = 2**31 - 1

DEFINITION_TYPES = (
    "application/yaml",
    "application/x-yaml",
    "text/yaml",
    "application/json",
    "text/plain",
)


def _version(record: PipelineRecord) -> dict[str, Any]:
    return {
        "pipeline": record.name,
        "version": record.version,
        "hash": record.content_hash,
        "registered_at": record.created_at,
    }


@router.post(
    "",
    status_code=201,
    response_model=models.Registered,
    responses=models.PROBLEMS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string"}} for t in DEFINITION_TYPES},
        }
    },
)
async def register_pipeline(request: Request) -> JSONResponse:
    """Register a definition (YAML or JSON): 201 new, 200 identical, 409 changed, 422 invalid."""
    api, caller = api_of(request), caller_of(request)
    require(caller, "admin", "register pipelines")
    text, filename = await _definition(request)
    spec, created = await run_in_threadpool(api.service.register, text, filename)
    if not caller.sees(spec.name):
        raise ApiProblem(
            403, "forbidden", f"Token '{caller.name}' may not register pipeline {spec.name}."
        )
    record = api.service.store.get_pipeline(spec.name, spec.version)
    return JSONResponse(
        {**_version(record), "created": created}, status_code=201 if created else 200
    )


async def _definition(request: Request) -> tuple[str, str]:
    raw = await read_body(request, api_of(request).limits)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApiProblem(400, "body_not_utf8", "The definition is not UTF-8 text.") from exc
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    return text, "definition.json" if kind == "application/json" else "definition.yaml"


@router.post(
    "/plan",
    responses=models.PROBLEMS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string"}} for t in DEFINITION_TYPES},
        }
    },
)
async def plan_pipeline(request: Request) -> dict[str, Any]:
    """Before registering a new version: the in-flight tasks of the others, grouped by
    version, status and current step, each group saying whether it could migrate."""  # noqa: D205,D209
    api, caller = api_of(request), caller_of(request)
    require(caller, "admin", "plan pipeline versions")
    text, filename = await _definition(request)
    plan: dict[str, Any] = await run_in_threadpool(api.service.plan, text, filename)
    if not caller.sees(plan["pipeline"]):
        raise ApiProblem(403, "forbidden", f"Token '{caller.name}' may not see {plan['pipeline']}.")
    return plan


@router.get("", response_model=list[models.PipelineVersion])
def list_pipelines(request: Request) -> list[dict[str, Any]]:
    """Every registered version the caller may see, by name then version."""
    api, caller = api_of(request), caller_of(request)
    return [_version(r) for r in api.service.pipelines() if caller.sees(r.name)]


@router.get("/{name}", response_model=list[models.PipelineVersion], responses=models.PROBLEMS)
def pipeline_versions(request: Request, name: str) -> list[dict[str, Any]]:
    """The registered versions of one pipeline."""
    api, caller = api_of(request), caller_of(request)
    found = [_version(r) for r in api.service.pipelines() if r.name == name]
    if not found or not caller.sees(name):
        raise PipelineNotFound(f"No pipeline {cut(name)} is registered.", pipeline=name)
    return found


@router.get(
    "/{name}/versions/{version}", response_model=models.PipelineDetail, responses=models.PROBLEMS
)
def pipeline_version(
    request: Request, name: str, version: Annotated[int, Path(ge=1, le=MAX_INT)]
) -> dict[str, Any]:
    """One version: its definition, content hash and Mermaid graph."""
    api, caller = api_of(request), caller_of(request)
    if not caller.sees(name):
        raise PipelineNotFound(f"No pipeline {cut(name)} version {version} is registered.")
    record = api.service.store.get_pipeline(name, version)
    spec = api.service.spec(name, version)
    return {
        **_version(record),
        "title": spec.title,
        "description": spec.description,
        "config_schema": spec.config_schema,
        "steps": [
            {
                "id": step.id,
                "type": step.kind.value,
                "title": step.title,
                "description": step.description,
                "depends_on": list(step.depends_on),
                "when": step.when,
            }
            for step in spec.steps
        ],
        "definition": json.loads(record.source),
        "mermaid": to_mermaid(spec),
    }
