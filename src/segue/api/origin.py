"""Refuse cross-site writes: a web page elsewhere must not drive this server.

A browser sends a page's ``POST`` to any address, cookies or not, and a plain
``text/plain`` body needs no CORS preflight. Without tokens (the loopback
default), any page a person visits could then start, answer or cancel their
tasks. So a write whose ``Origin`` is another host than the one it was sent to
(or that the browser marks ``Sec-Fetch-Site: cross-site``) is refused with 403.
Clients that are not browsers send no ``Origin`` and are not affected; the
console is served from the API's own address and passes.

A page can also point its own name at 127.0.0.1 (DNS rebinding): its requests
are then "same-site" to the browser, reads included. So a server without
tokens answers only requests addressed to a loopback name or to an IP address
(``Host: localhost:8000``, ``127.0.0.1:8000``, ``[::1]:8000``), which a
rebinding page cannot send.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from starlette.requests import Request

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def rebound(request: Request) -> str | None:
    """Why this request's ``Host`` is not one a loopback server answers (None: it is)."""
    host = request.headers.get("host", "")
    name = urlsplit(f"//{host}").hostname or ""
    if name == "localhost" or name.endswith(".localhost"):
        return None
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return f"it was sent to {host!r}, a name that is not this machine's loopback"
    return None


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
