"""Structured JSON logs, one object per line, with the request and event that caused them.

The context (request id, event subject/id/delivery) lives in a ContextVar so that anything
logged while handling a request or an event carries it, without passing loggers around.
"""

from __future__ import annotations

import logging
import sys
from contextlib import AbstractContextManager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

import orjson
from opentelemetry import trace

_context: ContextVar[dict[str, Any]] = ContextVar("tix_log_context", default={})  # noqa: B039 - never mutated

# Attributes every LogRecord has; anything else was passed through `extra=` and is logged.
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's ANSI copy of the message
}


def current_request_id() -> str | None:
    value = _context.get().get("request_id")
    return str(value) if value is not None else None


def log_context(**fields: Any) -> AbstractContextManager[None]:
    """Add fields to every log line written inside the block (and in tasks it starts)."""
    return _LogContext(fields)


class _LogContext(AbstractContextManager[None]):
    # A plain class rather than a @contextmanager generator: every request enters one, and
    # this costs a third as much.
    __slots__ = ("_fields", "_token")
    _token: Token[dict[str, Any]]

    def __init__(self, fields: dict[str, Any]) -> None:
        self._fields = fields

    def __enter__(self) -> None:
        self._token = _context.set({**_context.get(), **self._fields})

    def __exit__(self, *_: object) -> None:
        _context.reset(self._token)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
            **_context.get(),
            **_trace_ids(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def _trace_ids() -> dict[str, str]:
    """The current trace and span ids, beside the request id (none when nothing is traced)."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send every logger (ours, uvicorn's, the drivers') to stdout as JSON."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Requests are logged once, by our middleware, with their request id.
    logging.getLogger("uvicorn.access").disabled = True
    # The NATS client logs every reconnect attempt at error level; our own code reports outages.
    logging.getLogger("nats.aio.client").setLevel(logging.CRITICAL)
