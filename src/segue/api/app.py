"""The HTTP API: ``create_app(service, ...)`` and what runs beside it."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from segue import __version__, console
from segue.api import control, documents, models, origin, pipelines, problems, tasks
from segue.api.auth import Tokens
from segue.api.body import Limits
from segue.api.context import Api, api_of, caller_of
from segue.runtime.worker import Worker, default_owner
from segue.service import Service
from segue.store.migrate import current_revision, head_revision

DESCRIPTION = """\
Segue keeps the order and state of multi-step flows on the server. A front end
needs two calls: `GET /tasks/{id}` (status, current step, the input it needs
and its JSON Schema and prefill) and `POST /tasks/{id}/advance` (step + input).
Errors are RFC 9457 problem+json.
"""


def create_app(
    service: Service,
    *,
    tokens: Tokens | None = None,
    limits: Limits | None = None,
    workers: int = 0,
    with_console: bool = True,
    loopback_names: bool | None = None,
) -> FastAPI:
    """The FastAPI app over ``service``, with ``workers`` in-process worker threads.

    ``with_console`` also serves the web console at ``/`` (its pages and assets only).
    ``loopback_names`` (default: when there are no tokens) answers only requests
    addressed to a loopback name or an IP address (against DNS rebinding).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        pool = [Worker(service, owner=f"{default_owner()}:w{i}") for i in range(workers)]
        threads = [
            threading.Thread(
                target=w.run_forever, args=(stop,), daemon=True, name=f"segue-worker-{i}"
            )
            for i, w in enumerate(pool)
        ]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
            for worker in pool:
                worker.close()

    app = FastAPI(title="Segue", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.api = Api(service=service, tokens=tokens or Tokens({}), limits=limits or Limits())
    problems.install(app)

    guard_host = not app.state.api.tokens.enabled if loopback_names is None else loopback_names

    @app.middleware("http")
    async def refuse_foreign_requests(request: Request, call_next: Any) -> Any:
        if guard_host and (why := origin.rebound(request)) is not None:
            return problems.problem(
                403,
                "host_not_allowed",
                f"Refusing a request for another host: {why}. Without tokens this server "
                "answers only requests sent to localhost or to an IP address.",
            )
        why = origin.cross_site(request)
        if why is not None:
            return problems.problem(
                403, "cross_site", f"Refusing a write sent from another site: {why}."
            )
        return await call_next(request)

    app.include_router(tasks.router)
    app.include_router(pipelines.router)
    app.include_router(control.router)
    app.include_router(documents.router)
    if with_console:
        app.include_router(console.router)

    @app.get("/me", tags=["auth"], response_model=models.Me, responses=models.PROBLEMS)
    def me(request: Request) -> dict[str, Any]:
        """Who the bearer token belongs to and its role (anonymous admin without tokens)."""
        api, caller = api_of(request), caller_of(request)
        return {
            "name": caller.name,
            "role": caller.role,
            "roles": sorted(caller.extra_roles),
            "pipelines": sorted(caller.pipelines) if caller.pipelines is not None else None,
            "auth": api.tokens.enabled,
        }

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, Any]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"description": "not ready"}})
    async def readyz(request: Request) -> JSONResponse:
        """The database answers and its schema is the one this code knows."""
        store = api_of(request).service.store
        for attempt in (1, 2):  # a read is safe to repeat: the first may meet a dropped connection
            try:
                current = await run_in_threadpool(current_revision, store.engine)  # type: ignore[attr-defined]
                break
            except Exception as exc:
                if attempt == 2:
                    why = str(getattr(exc, "orig", None) or exc).strip()  # not the SQL text
                    response = problems.problem(
                        503, "not_ready", f"The database does not answer: {why}"
                    )
                    response.headers["Retry-After"] = str(problems.RETRY_AFTER_S)
                    return response
        if current != head_revision():
            return problems.problem(
                503,
                "not_ready",
                f"The database schema is at {current}, "
                f"not {head_revision()}; run segue db upgrade.",
            )
        return JSONResponse({"status": "ready", "schema": current})

    return app
