"""Resolving ``run: package.module:function`` references to callables."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from segue.errors import HandlerNotFound

Handler = Callable[..., Any]


class HandlerRegistry:
    """Imports handlers on first use and keeps them.

    Test suites and embedders may :meth:`register` callables under any name,
    which then take precedence over importing.
    """

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, ref: str, handler: Handler) -> None:
        """Make ``ref`` resolve to ``handler``."""
        self._handlers[ref] = handler

    def resolve(self, ref: str) -> Handler:
        """Return the callable for ``ref``.

        Raises:
            HandlerNotFound: the reference is malformed, the module does not
                import, or it has no such callable.
        """
        handler = self._handlers.get(ref)
        if handler is None:
            handler = _import(ref)
            self._handlers[ref] = handler
        return handler

    def check(self, ref: str) -> str | None:
        """Return None if ``ref`` resolves, else a sentence saying why not."""
        try:
            self.resolve(ref)
        except HandlerNotFound as exc:
            return exc.message
        return None


def _import(ref: str) -> Handler:
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise HandlerNotFound(f"'{ref}' is not of the form package.module:function")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise HandlerNotFound(
            f"module '{module_name}' of '{ref}' cannot be found ({exc.name} is missing)"
        ) from exc
    except Exception as exc:
        raise HandlerNotFound(
            f"module '{module_name}' of '{ref}' fails to import: {type(exc).__name__}: {exc}"
        ) from exc
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise HandlerNotFound(f"module '{module_name}' has no '{attr}' (from '{ref}')")
    if not callable(target) or inspect.isclass(target):
        raise HandlerNotFound(f"'{ref}' is not a function")
    return target  # type: ignore[no-any-return]
