"""Every error leaves the API as RFC 9457 ``application/problem+json``, never a trace.

``type`` is ``urn:segue:error:<code>`` (the same code the Python error carries),
``title`` a short fixed phrase, ``detail`` the sentence for people, plus the
error's structured fields (``errors`` for validation: ``[{pointer, message}]``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from segue.errors import EngineError, StoreUnavailable
from segue.types import cut, pointer_part

log = structlog.get_logger("segue.api")

PROBLEM = "application/problem+json"
RETRY_AFTER_S = 2
"""What a 503 for an unreachable or busy database tells clients to wait."""


class ApiProblem(Exception):
    """An error of the HTTP layer itself (bad JSON, body too large, no token…)."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra


RESERVED = ("type", "title", "status", "detail")


EXTRA_CHARS = 256
"""The longest string a problem's extra field carries whole (ids are 36, hashes 64)."""


class ProblemResponse(JSONResponse):
    """problem+json, with any character outside ASCII escaped: a refusal quotes what the
    client sent, which may be a lone surrogate that UTF-8 cannot carry."""  # noqa: D205,D209

    media_type = PROBLEM

    def render(self, content: Any) -> bytes:
        """The body, as ASCII JSON."""
        return json.dumps(content, separators=(",", ":"), allow_nan=False).encode("ascii")


def problem(
    status: int,
    code: str,
    detail: str,
    extra: Mapping[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response; extra fields named like standard ones get a ``task_`` prefix."""
    body: dict[str, Any] = {  # a value from the URL can be any length: never echoed whole
        (f"task_{k}" if k in RESERVED else k): cut(v, EXTRA_CHARS) if isinstance(v, str) else v
        for k, v in (extra or {}).items()
    }
    body.update(
        type=f"urn:segue:error:{code}", title=code.replace("_", " "), status=status, detail=detail
    )
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return ProblemResponse(body, status_code=status, headers=headers)


def engine_problem(exc: EngineError) -> JSONResponse:
    """The problem body of an engine error (its code, status, message and details)."""
    extra = dict(exc.details)
    violations = extra.pop("violations", None)
    if violations is not None:
        extra["errors"] = violations
    problems = extra.pop("problems", None)
    if problems is not None:
        extra["errors"] = problems
    response = problem(exc.http_status, exc.code, exc.message, extra)
    if isinstance(exc, StoreUnavailable):  # the database is down or busy: come back soon
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def install(app: FastAPI) -> None:
    """Register the one mapper for each kind of error."""

    @app.exception_handler(EngineError)
    async def _engine(_: Request, exc: EngineError) -> JSONResponse:
        return engine_problem(exc)

    @app.exception_handler(ApiProblem)
    async def _api(_: Request, exc: ApiProblem) -> JSONResponse:
        return problem(exc.status, exc.code, exc.detail, exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "pointer": "".join(f"/{pointer_part(p)}" for p in e.get("loc", ())[1:]),
                "message": str(e.get("msg")),
            }
            for e in exc.errors()
        ]
        in_body = any(e.get("loc", ("",))[0] == "body" for e in exc.errors())
        status = 422 if in_body else 400
        first = f": {errors[0]['pointer']}: {errors[0]['message']}" if errors else ""
        return problem(
            status,
            "request_invalid",
            f"The request's parameters are invalid{first}.",
            {"errors": errors},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        where = f"{request.method} {request.url.path}"
        detail = {
            404: f"There is nothing at {where}; see /docs for the API.",
            405: f"{where} is not allowed: the path exists, but not with that method.",
        }.get(exc.status_code, str(exc.detail))
        return problem(exc.status_code, code, detail, headers=dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", error=repr(exc))
        return problem(
            500,
            "internal_error",
            "Something went wrong inside Segue; the error "
            "was logged. Nothing was half-written: every change is one transaction.",
        )
