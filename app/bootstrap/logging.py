"""Structured logs: one JSON object a line, with request_id, trace_id and span_id when known.

The app's own loggers (structlog) render and write their lines themselves; stdlib loggers
(gunicorn, uvicorn, alembic, sqlalchemy) go through a handler with the same processors and
renderer, so every line a process writes has one shape. Routing the app's lines through stdlib
logging as well made two LogRecords per line, and the access log line a request writes cost
about twice as much (chapter 15).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from opentelemetry import trace
from structlog.typing import EventDict

from app.shared.application.correlation import request_id as current_request_id


def _add_request_id(_: Any, __: str, event: EventDict) -> EventDict:  # noqa: ANN401
    request_id = current_request_id.get()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


def _add_trace_context(_: Any, __: str, event: EventDict) -> EventDict:  # noqa: ANN401
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", format(context.trace_id, "032x"))
        event.setdefault("span_id", format(context.span_id, "016x"))
    return event


class _StderrNow:
    """sys.stderr as it is at each write: gunicorn, pytest and tests may replace it."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class _NamedLogger(structlog.WriteLogger):
    """A line writer with the name ``get_logger(name)`` gave it, for the ``logger`` field."""

    def __init__(self, name: str | None = None, *_: Any) -> None:  # noqa: ANN401
        super().__init__(_StderrNow())  # type: ignore[arg-type]
        self.name = name or "app"


def configure_logging(*, level: str = "INFO", json_format: bool = True) -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_request_id,
        _add_trace_context,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json_format
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    # ConsoleRenderer formats exceptions itself (prettier); JSON needs them as text first.
    exceptions = [structlog.processors.format_exc_info] if json_format else []
    structlog.configure(
        processors=[*shared, *exceptions, renderer],
        logger_factory=_NamedLogger,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Servers' own handlers would print a second, differently shaped line.
    for name in ("uvicorn", "uvicorn.error", "gunicorn.error", "gunicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Requests are logged once, by the access-log middleware.
    logging.getLogger("uvicorn.access").disabled = True
