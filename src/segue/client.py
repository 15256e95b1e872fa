"""A Python client for Segue's HTTP API: :class:`Client` (sync) and :class:`AsyncClient`.

Every method returns the API's JSON as plain dicts and lists. Every error is a
:class:`ClientError`, chosen by the status code and the problem's ``type``::

    ClientError               status, code, detail, problem (the problem+json body)
    ├── ConnectionFailed      no answer: the server is down, unreachable or too slow
    ├── BadRequest            400  the body or a header cannot be read
    ├── Unauthorized          401  no token, or one the server does not know
    ├── Forbidden             403  the token's role or pipelines do not allow it
    ├── NotFound              404  no such task, pipeline, step or artifact
    ├── Conflict              409  a changed definition, a command that does not apply
    │   └── NotWaiting        409  step_not_waiting / task_finished (``.task``: the task now)
    ├── PreconditionFailed    412  ``if_revision`` named an old revision
    ├── TooLarge              413  the request body is over the server's limit
    ├── InvalidInput          422  ``.violations``: ``[(pointer, message), ...]``
    └── ServerError           5xx

The methods are documented with examples in docs/api.md ("Python client").
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

__all__ = [
    "AsyncClient",
    "BadRequest",
    "Client",
    "ClientError",
    "Conflict",
    "ConnectionFailed",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "NotWaiting",
    "PreconditionFailed",
    "ServerError",
    "TooLarge",
    "Unauthorized",
]

DEFAULT_TIMEOUT_S = 10.0
STREAM_READ_TIMEOUT_S = 60.0
"""How long a stream may stay silent; the server sends a keep-alive every 15 s."""
EVENTS_PAGE = 1000
ERROR_TYPE_PREFIX = "urn:segue:error:"

JSONObject = dict[str, Any]


# -- errors ----------------------------------------------------------------------------


class ClientError(Exception):
    """A request to the Segue server failed.

    Attributes:
        status: The HTTP status, or None when no response arrived.
        code: The problem's code (``task_not_found``, ``input_invalid``, ...).
        detail: The sentence for people (also ``str(error)``).
        problem: The whole problem+json body (empty when there was none).
    """

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        code: str = "client_error",
        problem: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail, self.status, self.code = detail, status, code
        self.problem: JSONObject = dict(problem or {})

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.detail, self.status, self.code, self.problem))


def _rebuild(
    cls: type[ClientError], detail: str, status: int | None, code: str, problem: JSONObject
) -> ClientError:
    return cls(detail, status=status, code=code, problem=problem)


class ConnectionFailed(ClientError):
    """The server did not answer: it is down, unreachable, or slower than the timeout."""


class BadRequest(ClientError):
    """400: the server could not read the request (not JSON, a bad header or cursor)."""


class Unauthorized(ClientError):
    """401: the server needs a bearer token, or does not know the one sent."""


class Forbidden(ClientError):
    """403: the token may not do this (its role, its pipelines or the step's roles)."""


class NotFound(ClientError):
    """404: no such task, pipeline, step or artifact (or the token may not see it)."""


class Conflict(ClientError):
    """409: the request conflicts with what the server holds."""


class NotWaiting(Conflict):
    """409: the step is not waiting for input, or the task has finished."""

    @property
    def task(self) -> JSONObject | None:
        """The task view as it is now, when the server sent it."""
        task = self.problem.get("task")
        return task if isinstance(task, dict) else None


class PreconditionFailed(ClientError):
    """412: the task has changed since the revision named; fetch it again."""


class TooLarge(ClientError):
    """413: the request body is over the server's limit."""


class InvalidInput(ClientError):
    """422: the body breaks a schema (input, config, definition or request shape)."""

    @property
    def violations(self) -> list[tuple[str, str]]:
        """Each violation as ``(pointer, message)`` (definition problems give their path)."""
        errors = self.problem.get("errors") or []
        return [
            (str(e.get("pointer") or e.get("path") or ""), str(e.get("message", "")))
            for e in errors
            if isinstance(e, dict)
        ]


class ServerError(ClientError):
    """5xx: the server failed or is not ready; its operator must look."""


_BY_STATUS: dict[int, type[ClientError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    413: TooLarge,
    422: InvalidInput,
}
_NOT_WAITING = frozenset({"step_not_waiting", "task_finished"})


def error_for(response: httpx.Response) -> ClientError:
    """The typed error for an error response (its body already read)."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    problem: JSONObject = body if isinstance(body, dict) else {}
    kind = str(problem.get("type", ""))
    code = kind.removeprefix(ERROR_TYPE_PREFIX) if kind.startswith(ERROR_TYPE_PREFIX) else ""
    detail = str(problem.get("detail") or f"The server answered {status} {response.reason_phrase}.")
    cls: type[ClientError]
    if status >= 500:
        cls = ServerError
    elif status == 409 and code in _NOT_WAITING:
        cls = NotWaiting
    else:
        cls = _BY_STATUS.get(status, ClientError)
    return cls(detail, status=status, code=code or "http_error", problem=problem)


def _unreachable(base_url: str, exc: Exception) -> ConnectionFailed:
    if isinstance(exc, httpx.TimeoutException):
        reason = "it did not answer in time"
    else:
        reason = str(exc) or type(exc).__name__
    return ConnectionFailed(
        f"cannot reach the Segue server at {base_url}: {reason.rstrip('.')}.",
        code="connection_failed",
    )


def _unexpected(base_url: str, status: int | None = None) -> ClientError:
    return ClientError(
        f"The server at {base_url} answered with something other than Segue's JSON; "
        "is it a Segue server?",
        status=status,
        code="unexpected_answer",
    )


def _json(base_url: str, response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise _unexpected(base_url, response.status_code) from exc


def _as_object(base_url: str, value: Any) -> JSONObject:
    if not isinstance(value, dict):
        raise _unexpected(base_url)
    return value


def _as_list(base_url: str, value: Any) -> list[JSONObject]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _unexpected(base_url)
    return value


# -- requests (shared by both clients) -------------------------------------------------


UNSET: Any = object()
"""No value given (``None`` is a JSON value)."""


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    path: str
    params: dict[str, str | int] = field(default_factory=dict)
    body: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def options(self) -> dict[str, Any]:
        """Keyword arguments for ``httpx.Client.request``."""
        options: dict[str, Any] = {"params": self.params, "headers": self.headers}
        if self.body is not None:
            options["json"] = self.body
        if self.content is not None:
            options["content"] = self.content
        return options


def _task(task_id: str, *rest: str) -> str:
    return "/".join(["/tasks", *(quote(part, safe="") for part in (task_id, *rest))])


def _start(
    pipeline: str, config: Mapping[str, Any] | None, version: int | None, key: str | None
) -> _Request:
    body: JSONObject = {"pipeline": pipeline}
    if config is not None:
        body["config"] = dict(config)
    if version is not None:
        body["version"] = version
    return _Request("POST", "/tasks", body=body, headers=_key(key))


def _advance(
    task_id: str, step: str, value: Any, key: str | None, if_revision: int | None
) -> _Request:
    headers = _key(key)
    if if_revision is not None:
        headers["If-Match"] = f'"{if_revision}"'
    body = {"step": step, "input": value}
    return _Request("POST", _task(task_id, "advance"), body=body, headers=headers)


def _key(key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": key} if key else {}


def _list_tasks(
    status: str | None, pipeline: str | None, limit: int | None, cursor: str | None
) -> _Request:
    given = {"status": status, "pipeline": pipeline, "limit": limit, "cursor": cursor}
    return _Request("GET", "/tasks", params={k: v for k, v in given.items() if v is not None})


def _cancel(task_id: str, reason: str | None) -> _Request:
    body = {"reason": reason} if reason is not None else None
    return _Request("POST", _task(task_id, "cancel"), body=body)


def _events(task_id: str, after: int) -> _Request:
    return _Request("GET", _task(task_id, "events"), params={"after": after, "limit": EVENTS_PAGE})


def _artifacts(task_id: str, all_attempts: bool) -> _Request:
    params: dict[str, str | int] = {"all_attempts": "true"} if all_attempts else {}
    return _Request("GET", _task(task_id, "artifacts"), params=params)


def _artifact(task_id: str, step: str, attempt: int | None) -> _Request:
    params: dict[str, str | int] = {"attempt": attempt} if attempt is not None else {}
    return _Request("GET", _task(task_id, "artifacts", step), params=params)


def _stream(task_id: str, last_event_id: int | str | None) -> _Request:
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    return _Request("GET", _task(task_id, "stream"), headers=headers)


def _artifact_value(base_url: str, response: httpx.Response) -> Any:
    kind = response.headers.get("content-type", "").split(";")[0].strip()
    if kind == "application/json" or kind.endswith("+json"):
        return _json(base_url, response)
    return response.content


class _EventStream:
    """Server-Sent Events, one line at a time: each complete event's ``data`` as JSON."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.data: list[str] = []

    def feed(self, line: str) -> JSONObject | None:
        """Take one line; return the event it completes, if any."""
        if line:
            name, _, value = line.partition(":")
            if name == "data":
                self.data.append(value.removeprefix(" "))
            return None  # comments (":") and the id, event and retry fields
        text, self.data = "\n".join(self.data), []
        if not text:
            return None
        try:
            return _as_object(self.base_url, json.loads(text))
        except ValueError as exc:
            raise _unexpected(self.base_url) from exc


def _setup(base_url: str, token: str | None) -> tuple[str, dict[str, str]]:
    url = base_url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConnectionFailed(
            f"cannot reach the Segue server at {base_url}: "
            "the URL must start with http:// or https://.",
            code="connection_failed",
        )
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return url, headers


def _stream_timeout(timeout: float) -> httpx.Timeout:
    return httpx.Timeout(timeout, read=max(timeout, STREAM_READ_TIMEOUT_S))


# -- the clients -----------------------------------------------------------------------


class Client:
    """A synchronous client for one Segue server (``httpx.Client`` underneath).

    Args:
        base_url: The server, such as ``http://127.0.0.1:8000``.
        token: A bearer token, sent as ``Authorization: Bearer <token>``.
        timeout: Seconds to wait for the server (connect, read, write).
        transport: An httpx transport to use instead of the network (for tests).

    Raises:
        ConnectionFailed: ``base_url`` is not an http(s) URL.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url, headers = _setup(base_url, token)
        self.timeout = timeout
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, request: _Request) -> httpx.Response:
        try:
            response = self._http.request(request.method, request.path, **request.options())
        except httpx.HTTPError as exc:
            raise _unreachable(self.base_url, exc) from exc
        if response.is_error:
            raise error_for(response)
        return response

    def _object(self, request: _Request) -> JSONObject:
        return _as_object(self.base_url, _json(self.base_url, self._send(request)))

    def _list(self, request: _Request) -> list[JSONObject]:
        return _as_list(self.base_url, _json(self.base_url, self._send(request)))

    def register(self, text: str, content_type: str = "application/yaml") -> JSONObject:
        """Register a pipeline definition (YAML or JSON text; needs the admin role).

        Returns:
            ``{pipeline, version, hash, registered_at, created}``; ``created`` is
            False when the same content was registered before.

        Raises:
            InvalidInput: the definition has problems (``violations`` name their paths).
            Conflict: the version is registered with different content.
        """
        body = text.encode("utf-8")
        headers = {"Content-Type": content_type}
        return self._object(_Request("POST", "/pipelines", content=body, headers=headers))

    def pipelines(self) -> list[JSONObject]:
        """Every registered pipeline version the token may see."""
        return self._list(_Request("GET", "/pipelines"))

    def start(
        self,
        pipeline: str,
        config: Mapping[str, Any] | None = None,
        *,
        version: int | None = None,
        idempotency_key: str | None = None,
    ) -> JSONObject:
        """Start a task (of the latest version unless one is named); returns its view.

        Raises:
            NotFound: no such pipeline (or version).
            InvalidInput: the config breaks the pipeline's config schema.
        """
        return self._object(_start(pipeline, config, version, idempotency_key))

    def get(self, task_id: str) -> JSONObject:
        """The task view: status, current step, the input it needs, every step."""
        return self._object(_Request("GET", _task(task_id)))

    def advance(
        self,
        task_id: str,
        step: str,
        input: Any,
        *,
        idempotency_key: str | None = None,
        if_revision: int | None = None,
    ) -> JSONObject:
        """Answer a waiting step with ``input``; returns the task view after it.

        Raises:
            NotWaiting: the step is not waiting (``task`` holds the task as it is now).
            InvalidInput: the input breaks the step's schema.
            PreconditionFailed: the task is no longer at revision ``if_revision``.
            Forbidden: the token may not answer this step.
        """
        return self._object(_advance(task_id, step, input, idempotency_key, if_revision))

    def cancel(self, task_id: str, reason: str | None = None) -> JSONObject:
        """Cancel a task that has not finished (needs the admin role)."""
        return self._object(_cancel(task_id, reason))

    def retry(self, task_id: str) -> JSONObject:
        """Resume a FAILED task from its failed steps (needs the admin role)."""
        return self._object(_Request("POST", _task(task_id, "retry")))

    def rerun(
        self,
        task_id: str,
        step: str,
        *,
        input: Any = UNSET,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> JSONObject:
        """Run ``step`` and everything downstream again (operator); returns the task view.

        Without ``input`` a wait step waits again with its last input as the
        prefill; with it, the step is answered at once.
        """
        body: dict[str, Any] = {"step": step}
        if input is not UNSET:
            body["input"] = input
        if reason is not None:
            body["reason"] = reason
        request = _Request(
            "POST", _task(task_id, "rerun"), body=body, headers=_key(idempotency_key)
        )
        return self._object(request)

    def migrate(
        self,
        task_id: str,
        to_version: int,
        *,
        step_map: Mapping[str, str] | None = None,
        reason: str | None = None,
    ) -> JSONObject:
        """Move a task to another version of its pipeline (admin).

        Raises:
            Conflict: the move is not safe; ``problem["problems"]`` lists why.
        """
        body: dict[str, Any] = {"to_version": to_version}
        if step_map:
            body["step_map"] = dict(step_map)
        if reason is not None:
            body["reason"] = reason
        return self._object(_Request("POST", _task(task_id, "migrate"), body=body))

    def plan(self, text: str, content_type: str = "application/yaml") -> JSONObject:
        """Which in-flight tasks could move to this definition's version (nothing registered)."""
        headers = {"Content-Type": content_type}
        request = _Request("POST", "/pipelines/plan", content=text.encode(), headers=headers)
        return self._object(request)

    def skip(self, task_id: str, step: str, reason: str | None = None) -> JSONObject:
        """Skip a FAILED or waiting step so its dependents proceed (admin)."""
        body = {"reason": reason} if reason is not None else None
        return self._object(_Request("POST", _task(task_id, "steps", step, "skip"), body=body))

    def history(self, task_id: str, at: int) -> JSONObject:
        """The task right after event ``at``: ``{at, revision, event, task, artifacts}``."""
        return self._object(_Request("GET", _task(task_id, "history"), params={"at": at}))

    def fork(self, task_id: str, at_seq: int) -> JSONObject:
        """Start a new task from this task's state after event ``at_seq``; its view."""
        return self._object(_Request("POST", _task(task_id, "fork"), body={"at_seq": at_seq}))

    def list_tasks(
        self,
        *,
        status: str | None = None,
        pipeline: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> JSONObject:
        """One page of tasks, newest first: ``{tasks, next_cursor}``.

        Pass ``next_cursor`` back as ``cursor`` for the next page (None: no more).
        """
        return self._object(_list_tasks(status, pipeline, limit, cursor))

    def events(self, task_id: str, after: int = 0) -> list[JSONObject]:
        """Every event of the task after seq ``after``, in order (all pages)."""
        found: list[JSONObject] = []
        cursor: int | None = after
        while cursor is not None:
            page = self._object(_events(task_id, cursor))
            found += page["events"]
            cursor = page["next_after"]
        return found

    def artifacts(self, task_id: str, *, all_attempts: bool = False) -> list[JSONObject]:
        """The current artifact of each step (every attempt's with ``all_attempts``)."""
        return self._list(_artifacts(task_id, all_attempts))

    def artifact(self, task_id: str, step: str, attempt: int | None = None) -> Any:
        """A step's artifact itself: its JSON value (raw bytes for a non-JSON file).

        Raises:
            NotFound: the task has no artifact for that step (or attempt).
        """
        return _artifact_value(self.base_url, self._send(_artifact(task_id, step, attempt)))

    def upload(self, data: bytes, filename: str) -> JSONObject:
        """Upload a file; returns ``{sha256, size, filename, document}``.

        Start a ``doc_ingest`` task with ``{"document": result["document"]}``.

        Raises:
            TooLarge: the file is over the server's upload limit.
            InvalidInput: the file is empty.
        """
        request = _Request(
            "POST",
            "/files",
            content=data,
            headers={"Content-Type": "application/octet-stream"},
            params={"filename": filename},
        )
        return self._object(request)

    def search(self, task_id: str, query: str, k: int = 5) -> list[JSONObject]:
        """The ``k`` sections of a finished document task closest to ``query``, best first.

        Raises:
            Conflict: the task has not embedded its sections yet.
        """
        return self._list(_Request("GET", _task(task_id, "search"), params={"q": query, "k": k}))

    def stream(self, task_id: str, last_event_id: int | str | None = None) -> Iterator[JSONObject]:
        """The task's events as they happen (Server-Sent Events), from the first one.

        The request is sent when iteration starts. The stream ends when the task
        completes or is cancelled; stop iterating to leave earlier. To resume,
        pass the ``seq`` of the last event received as ``last_event_id``.
        """
        request = _stream(task_id, last_event_id)
        parser = _EventStream(self.base_url)
        try:
            with self._http.stream(
                "GET", request.path, headers=request.headers, timeout=_stream_timeout(self.timeout)
            ) as response:
                if response.is_error:
                    response.read()
                    raise error_for(response)
                for line in response.iter_lines():
                    event = parser.feed(line)
                    if event is not None:
                        yield event
        except httpx.HTTPError as exc:
            raise _unreachable(self.base_url, exc) from exc


class AsyncClient:
    """An asynchronous client for one Segue server (``httpx.AsyncClient`` underneath).

    The methods are those of :class:`Client`, as coroutines; :meth:`stream` is an
    async iterator.

    Args:
        base_url: The server, such as ``http://127.0.0.1:8000``.
        token: A bearer token, sent as ``Authorization: Bearer <token>``.
        timeout: Seconds to wait for the server (connect, read, write).
        transport: An httpx transport to use instead of the network (for tests).

    Raises:
        ConnectionFailed: ``base_url`` is not an http(s) URL.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url, headers = _setup(base_url, token)
        self.timeout = timeout
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _send(self, request: _Request) -> httpx.Response:
        try:
            response = await self._http.request(request.method, request.path, **request.options())
        except httpx.HTTPError as exc:
            raise _unreachable(self.base_url, exc) from exc
        if response.is_error:
            raise error_for(response)
        return response

    async def _object(self, request: _Request) -> JSONObject:
        return _as_object(self.base_url, _json(self.base_url, await self._send(request)))

    async def _list(self, request: _Request) -> list[JSONObject]:
        return _as_list(self.base_url, _json(self.base_url, await self._send(request)))

    async def register(self, text: str, content_type: str = "application/yaml") -> JSONObject:
        """Register a pipeline definition; see :meth:`Client.register`."""
        body = text.encode("utf-8")
        headers = {"Content-Type": content_type}
        return await self._object(_Request("POST", "/pipelines", content=body, headers=headers))

    async def pipelines(self) -> list[JSONObject]:
        """Every registered pipeline version the token may see."""
        return await self._list(_Request("GET", "/pipelines"))

    async def start(
        self,
        pipeline: str,
        config: Mapping[str, Any] | None = None,
        *,
        version: int | None = None,
        idempotency_key: str | None = None,
    ) -> JSONObject:
        """Start a task; see :meth:`Client.start`."""
        return await self._object(_start(pipeline, config, version, idempotency_key))

    async def get(self, task_id: str) -> JSONObject:
        """The task view."""
        return await self._object(_Request("GET", _task(task_id)))

    async def advance(
        self,
        task_id: str,
        step: str,
        input: Any,
        *,
        idempotency_key: str | None = None,
        if_revision: int | None = None,
    ) -> JSONObject:
        """Answer a waiting step; see :meth:`Client.advance`."""
        request = _advance(task_id, step, input, idempotency_key, if_revision)
        return await self._object(request)

    async def cancel(self, task_id: str, reason: str | None = None) -> JSONObject:
        """Cancel a task that has not finished (needs the admin role)."""
        return await self._object(_cancel(task_id, reason))

    async def retry(self, task_id: str) -> JSONObject:
        """Resume a FAILED task from its failed steps (needs the admin role)."""
        return await self._object(_Request("POST", _task(task_id, "retry")))

    async def list_tasks(
        self,
        *,
        status: str | None = None,
        pipeline: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> JSONObject:
        """One page of tasks, newest first; see :meth:`Client.list_tasks`."""
        return await self._object(_list_tasks(status, pipeline, limit, cursor))

    async def events(self, task_id: str, after: int = 0) -> list[JSONObject]:
        """Every event of the task after seq ``after``, in order (all pages)."""
        found: list[JSONObject] = []
        cursor: int | None = after
        while cursor is not None:
            page = await self._object(_events(task_id, cursor))
            found += page["events"]
            cursor = page["next_after"]
        return found

    async def artifacts(self, task_id: str, *, all_attempts: bool = False) -> list[JSONObject]:
        """The current artifact of each step (every attempt's with ``all_attempts``)."""
        return await self._list(_artifacts(task_id, all_attempts))

    async def artifact(self, task_id: str, step: str, attempt: int | None = None) -> Any:
        """A step's artifact itself; see :meth:`Client.artifact`."""
        response = await self._send(_artifact(task_id, step, attempt))
        return _artifact_value(self.base_url, response)

    async def stream(
        self, task_id: str, last_event_id: int | str | None = None
    ) -> AsyncIterator[JSONObject]:
        """The task's events as they happen; see :meth:`Client.stream`."""
        request = _stream(task_id, last_event_id)
        parser = _EventStream(self.base_url)
        try:
            async with self._http.stream(
                "GET", request.path, headers=request.headers, timeout=_stream_timeout(self.timeout)
            ) as response:
                if response.is_error:
                    await response.aread()
                    raise error_for(response)
                async for line in response.aiter_lines():
                    event = parser.feed(line)
                    if event is not None:
                        yield event
        except httpx.HTTPError as exc:
            raise _unreachable(self.base_url, exc) from exc
