"""Files and document search: ``POST /files``, ``GET /files/{sha256}``, ``GET /tasks/{id}/search``.

A file is uploaded first and a task started with the reference it returns,
so starting stays one small JSON request (idempotent, retryable) and the same
file can feed many tasks. Files are content-addressed: uploading the same
bytes twice gives the same ``sha256`` and stores them once.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from segue.api import models
from segue.api.body import Limits, read_body
from segue.api.context import api_of, caller_of, require, visible_task
from segue.api.problems import ApiProblem
from segue.docs.model import DocumentError
from segue.docs.search import search

router = APIRouter(tags=["documents"])

SHA256 = r"^[0-9a-f]{64}$"


class FileRef(BaseModel):
    """An uploaded file: put ``document`` into a ``doc_ingest`` task's config."""

    sha256: str
    size: int
    filename: str
    document: dict[str, str]


class SearchHit(BaseModel):
    """A section and how well it matches the query (cosine similarity)."""

    section: str
    title: str
    path: list[str]
    score: float
    start: int
    end: int
    preview: str


def _filename(raw: str | None) -> str:
    name = PurePath((raw or "").replace("\\", "/")).name.strip()
    if name in ("", ".", "..") or len(name) > 255 or any(ord(c) < 32 for c in name):
        raise ApiProblem(
            400,
            "filename_invalid",
            "Name the file: send ?filename=report.pdf (raw body) or a multipart "
            "'file' field with a filename, at most 255 characters.",
        )
    return name


async def _multipart(request: Request) -> tuple[bytes, str | None]:
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiProblem(400, "file_missing", "The multipart body has no 'file' field.")
        return await upload.read(), upload.filename


@router.post(
    "/files",
    status_code=201,
    response_model=FileRef,
    responses=models.PROBLEMS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
            },
        }
    },
)
async def upload_file(request: Request, filename: str | None = Query(None, max_length=255)) -> Any:
    """Upload a file: the raw body with ``?filename=``, or a multipart ``file`` field."""
    api, caller = api_of(request), caller_of(request)
    require(caller, "operator", "upload files")
    limits = Limits(max_body_bytes=api.limits.max_upload_bytes)
    request._body = await read_body(request, limits)  # read once, within the upload limit
    data, sent_name = (
        await _multipart(request)
        if request.headers.get("content-type", "").startswith("multipart/form-data")
        else (request._body, None)
    )
    name = _filename(filename or sent_name)
    if not data:
        raise ApiProblem(422, "file_empty", f"{name} is empty (0 bytes); there is nothing to read.")
    sha256 = await run_in_threadpool(api.service.put_file, data)
    body = {
        "sha256": sha256,
        "size": len(data),
        "filename": name,
        "document": {"sha256": sha256, "filename": name},
    }
    return JSONResponse(body, status_code=201, headers={"Location": f"/files/{sha256}"})


@router.get("/files/{sha256}", responses=models.PROBLEMS)
def download_file(request: Request, sha256: Annotated[str, Path(pattern=SHA256)]) -> Response:
    """The bytes of an uploaded file or a blob artifact (ETag = sha256)."""
    api, caller = api_of(request), caller_of(request)
    require(caller, "viewer", "read files")
    headers = {"ETag": f'"{sha256}"', "Cache-Control": "private, max-age=31536000, immutable"}
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    data = api.service.read_file(sha256)
    return Response(data, media_type="application/octet-stream", headers=headers)


@router.get("/tasks/{task_id}/search", response_model=list[SearchHit], responses=models.PROBLEMS)
def search_task(
    request: Request,
    task_id: str,
    q: Annotated[str, Query(min_length=1, max_length=1000)],
    k: Annotated[int, Query(ge=1, le=100)] = 5,
) -> list[dict[str, Any]]:
    """The ``k`` sections of a finished document task that best match ``q``, best first."""
    api, caller = api_of(request), caller_of(request)
    state = visible_task(api, caller, task_id)
    values = api.service.artifact_values(task_id)
    try:
        return search(values, api.service.read_file, q, k, status=state.status.value)
    except DocumentError as exc:
        raise ApiProblem(409, "not_searchable", str(exc)) from exc
