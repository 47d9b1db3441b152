"""Traces, when someone asked for them: OpenTelemetry spans for every request, outgoing HTTP call,
database and Redis call and event handled, exported over OTLP when the standard variables name a
collector (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), or kept as
JSON lines in `TIX_SPANS_DIR` (what `tix dev` does, for `tix trace`). With neither set, nothing
is installed: the API's no-op tracer is all there is, so a process runs as it would without.

The trace context travels with the events: the W3C `traceparent` of the change that caused an
event is stored with its outbox entry, sent as a NATS header, and continued by the listener, so
one purchase is one trace across every service, however late the relay publishes it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Span, SpanKind

logger = logging.getLogger(__name__)

SPANS_DIR_VARIABLE = "TIX_SPANS_DIR"
REQUEST_ID_ATTRIBUTE = "tix.request_id"
OTLP_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_configured: bool | None = None
_lock = threading.Lock()


def configure_tracing(service: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Install the tracer provider and the client libraries' instrumentation, once per process,
    if an exporter is configured. Whether tracing is on."""
    global _configured
    with _lock:
        if _configured is not None:
            return _configured
        exporters: list[SpanExporter] = []
        if any(environ.get(name) for name in OTLP_VARIABLES):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporters.append(OTLPSpanExporter())
        if spans_dir := environ.get(SPANS_DIR_VARIABLE):
            exporters.append(JsonLinesExporter(Path(spans_dir), service))
        _configured = bool(exporters)
        if not exporters:
            return False
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        for exporter in exporters:
            provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        _instrument_clients()
        logger.info("tracing", extra={"exporters": [type(e).__name__ for e in exporters]})
        return True


def _instrument_clients() -> None:
    """httpx everywhere; PyMongo and Redis where the process has them (not the web client)."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().instrument()
    if importlib.util.find_spec("pymongo") is not None:
        from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

        PymongoInstrumentor().instrument()
    if importlib.util.find_spec("redis") is not None:
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        RedisInstrumentor().instrument()


# Query parameters whose values are secrets (a reset link's token): never in a span.
SECRET_QUERY_PARAMETERS = frozenset({"token"})
_REDACTED = "REDACTED"
_URL_ATTRIBUTES = ("http.target", "http.url", "url.query", "url.full")


def redact_query(text: str) -> str:
    """`text` (a URL, a target or a bare query) with every secret parameter's value replaced."""
    base, mark, query = text.rpartition("?") if "?" in text else ("", "", text)
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(name in SECRET_QUERY_PARAMETERS for name, _ in pairs):
        return text
    kept = [(n, _REDACTED if n in SECRET_QUERY_PARAMETERS else v) for n, v in pairs]
    return f"{base}{mark}{urlencode(kept)}"


def _redact_span_url(span: Span, scope: dict[str, Any]) -> None:
    # The ASGI instrumentation records the whole query (http.target) and redacts only cloud
    # providers' signature parameters from the URL: a reset page's token would be in its span.
    if not span.is_recording() or b"token" not in scope.get("query_string", b""):
        return
    attributes = getattr(span, "attributes", None) or {}
    for name in _URL_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str):
            span.set_attribute(name, redact_query(value))


def instrument_app(app: Any) -> None:
    """Server spans for every request of a FastAPI app (not its health probes)."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        excluded_urls="/healthz,/readyz",
        exclude_spans=["receive", "send"],
        server_request_hook=_redact_span_url,
    )


def trace_headers() -> dict[str, str]:
    """The current trace context as W3C headers (`traceparent`), to send along with an event;
    empty when nothing is traced."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def continuing(headers: Mapping[str, str], name: str, **attributes: str) -> Iterator[Span]:
    """A consumer span continuing the trace that `headers` carry (from `trace_headers`)."""
    parent: Context = propagate.extract(dict(headers))
    tracer = trace.get_tracer("tixcommon")
    with tracer.start_as_current_span(
        name, context=parent, kind=SpanKind.CONSUMER, attributes=attributes
    ) as span:
        yield span


@contextmanager
def handling_event(
    headers: Mapping[str, str], *, subject: str, consumer: str, request_id: str | None
) -> Iterator[Span]:
    """A consumer span for one delivery, continuing the trace its headers carry."""
    with continuing(
        headers,
        f"{subject} process",
        **{
            "messaging.system": "nats",
            "messaging.destination.name": subject,
            "messaging.consumer.group.name": consumer,
            **({REQUEST_ID_ATTRIBUTE: request_id} if request_id else {}),
        },
    ) as span:
        yield span


def note_request_id(request_id: str) -> None:
    """Name the current span's request, so that `tix trace <request-id>` finds its trace."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute(REQUEST_ID_ATTRIBUTE, request_id)


class JsonLinesExporter(SpanExporter):
    """Spans as JSON lines in a file of this process's own, for `tix trace` to read."""

    def __init__(self, directory: Path, service: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{service}-{os.getpid()}.jsonl"
        self.service = service

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = b"".join(orjson.dumps(self._record(span)) + b"\n" for span in spans)
        with self.path.open("ab") as file:
            file.write(lines)
        return SpanExportResult.SUCCESS

    def _record(self, span: ReadableSpan) -> dict[str, Any]:
        context = span.get_span_context()
        assert context is not None
        return {
            "trace_id": f"{context.trace_id:032x}",
            "span_id": f"{context.span_id:016x}",
            "parent_id": f"{span.parent.span_id:016x}" if span.parent else None,
            "service": self.service,
            "name": span.name,
            "kind": span.kind.name.lower(),
            "start_ns": span.start_time,
            "end_ns": span.end_time,
            "status": span.status.status_code.name.lower(),
            "attributes": dict(span.attributes or {}),
        }
