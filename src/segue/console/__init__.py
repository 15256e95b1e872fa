"""The web console: the static build of ``console/`` and the read-only routes that serve it.

The console is a single-page app. Its own pages live at ``/``, ``/new`` and
``/task/{id}`` (singular, beside the API's ``/tasks``), so serving ``index.html``
for them never hides an API path: anything else that is not found is still the
API's problem+json 404. The built files are committed under ``static/`` so
that installing the Python package needs no Node.js (``make console`` rebuilds
them from ``console/``).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, Response

STATIC = Path(__file__).parent / "static"
ASSETS = STATIC / "assets"
PAGES = ("/", "/new", "/task/{task_id}")
"""The client routes; each one answers with ``index.html``."""

router = APIRouter(include_in_schema=False)


def available() -> bool:
    """Whether the console's build is present (a source checkout may lack it)."""
    return (STATIC / "index.html").is_file()


def _index() -> Response:
    if not available():
        return Response(
            "The console is not built: run make console.",
            status_code=503,
            media_type="text/plain; charset=utf-8",
        )
    # The page names hashed assets; it must never be cached past a deploy.
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


for page in PAGES:
    router.add_api_route(page, _index, methods=["GET"], response_class=Response)


@router.get("/assets/{name}")
def asset(name: str) -> Response:
    """One built file; its name carries its content hash, so it may be cached for good."""
    path = ASSETS / name
    if "/" in name or name.startswith(".") or not path.is_file():
        raise HTTPException(404, f"The console has no file {name}.")
    return FileResponse(path, headers={"Cache-Control": "public, max-age=31536000, immutable"})
