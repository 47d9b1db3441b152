"""`tix trace <request-id>`: one request's whole journey through the running stack, as a tree of
spans with their timings, read from the span files every process of `tix dev` keeps
(`$TIX_DATA_DIR/spans`, see tixcommon.tracing)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from tixcommon.tracing import REQUEST_ID_ATTRIBUTE


@dataclass(frozen=True)
class SpanRecord:
    trace_id: str
    span_id: str
    parent_id: str | None
    service: str
    name: str
    start_ns: int
    end_ns: int
    status: str
    attributes: dict[str, Any]

    @property
    def milliseconds(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6

    @property
    def label(self) -> str:
        """Its name; for an outgoing call, named by its method alone, the URL's path too."""
        url = self.attributes.get("url.full") or self.attributes.get("http.url")
        if url and " " not in self.name:
            return f"{self.name} {urlsplit(str(url)).path}"
        return self.name


def read_spans(directory: Path) -> list[SpanRecord]:
    spans = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            try:
                record = orjson.loads(line)
                spans.append(SpanRecord(**{k: record[k] for k in SpanRecord.__dataclass_fields__}))
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue  # a line being written as we read, or not a span
    return spans


def journey(spans: list[SpanRecord], request_id: str) -> list[SpanRecord]:
    """Every span of the traces the request is part of, in the order they started."""
    traces = {s.trace_id for s in spans if s.attributes.get(REQUEST_ID_ATTRIBUTE) == request_id}
    return sorted((s for s in spans if s.trace_id in traces), key=lambda s: s.start_ns)


def render(spans: list[SpanRecord]) -> list[str]:
    """The spans as an indented tree, each line its service, name, start offset and duration."""
    if not spans:
        return []
    known = {span.span_id for span in spans}
    children: dict[str | None, list[SpanRecord]] = defaultdict(list)
    for span in spans:
        children[span.parent_id if span.parent_id in known else None].append(span)
    began = spans[0].start_ns
    lines: list[str] = []

    def walk(span: SpanRecord, depth: int) -> None:
        failed = "  FAILED" if span.status == "error" else ""
        offset = (span.start_ns - began) / 1e6
        lines.append(
            f"{'  ' * depth}{span.service:<18} {span.label:<44} "
            f"+{offset:8.1f} ms {span.milliseconds:8.1f} ms{failed}"
        )
        for child in children[span.span_id]:
            walk(child, depth + 1)

    for root in children[None]:
        walk(root, 0)
    return lines


def trace_command(data_dir: Path, request_id: str) -> int:
    spans = journey(read_spans(data_dir / "spans"), request_id)
    if not spans:
        print(f"no spans of request {request_id} (is it from this stack, and finished?)")  # noqa: T201
        return 1
    for line in render(spans):
        print(line)  # noqa: T201
    return 0
