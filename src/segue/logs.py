"""Logging set-up for the processes Segue starts (the CLI and the server).

Logs go to stderr, so ``--json`` output on stdout stays machine-readable, and
tracebacks are plain (no local variables: they can hold request data).
"""

from __future__ import annotations

import logging
import sys

import structlog


def configure(*, level: int = logging.INFO) -> None:
    """Send structlog's output to stderr with plain tracebacks."""
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.dev.ConsoleRenderer(
                colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
            ),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # pypdf logs a line per odd font or damaged object it works around; what
    # matters to a person reaches them as the upload step's warnings instead.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
