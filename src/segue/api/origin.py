"""Refuse cross-site writes: a web page elsewhere must not drive this server.

A browser sends a page's ``POST`` to any address, cookies or not, and a plain
``text/plain`` body needs no CORS preflight. Without tokens (the loopback
default), any page a person visits could then start, answer or cancel their
tasks. So a write whose ``Origin`` is another host than the one it was sent to
(or that the browser marks ``Sec-Fetch-Site: cross-site``) is refused with 403.
Clients that are not browsers send no ``Origin`` and are not affected; the
console is served from the API's own address and passes.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def cross_site(request: Request) -> str | None:
    """Why this request is a cross-site write (None: it is not one)."""
    if request.method not in WRITES:
        return None
    if request.headers.get("sec-fetch-site") == "cross-site":
        return "the browser marks it as sent from another site"
    origin = request.headers.get("origin")
    if origin is None:
        return None
    host = request.headers.get("host", "").lower()
    if origin == "null" or urlsplit(origin).netloc.lower() != host:
        return f"it comes from a page at {origin}, not from {host or 'this server'}"
    return None
