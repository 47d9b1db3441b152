"""`tix trace`: one request's spans, found by its request id, printed as a tree."""

from __future__ import annotations

from pathlib import Path

import orjson

from tixdev.traces import journey, read_spans, render


def span(
    span_id: str, parent: str | None, service: str, name: str, start: int, **attributes: str
) -> dict[str, object]:
    return {
        "trace_id": "t1" if span_id != "other" else "t2", "span_id": span_id,
        "parent_id": parent, "service": service, "name": name,
        "kind": "server", "start_ns": start * 1_000_000, "end_ns": (start + 5) * 1_000_000,
        "status": "error" if "fails" in name else "unset", "attributes": attributes,
    }  # fmt: skip


def test_a_requests_trace_is_printed_as_a_tree_in_the_order_it_ran(tmp_path: Path) -> None:
    records = [
        span(
            "a", None, "client", "POST /tickets/{ticket_id}/purchase", 0, **{"tix.request_id": "r1"}
        ),
        span("b", "a", "client", "POST", 2, **{"url.full": "http://orders:3003/api/orders"}),
        span("c", "b", "tickets", "order.created process", 4),
        span("d", "gone", "payments", "fails", 6),  # its parent was never written: a root
        span("other", None, "auth", "GET /api/users/currentuser", 1, **{"tix.request_id": "r2"}),
    ]
    (tmp_path / "client-1.jsonl").write_bytes(
        b"".join(orjson.dumps(record) + b"\n" for record in records) + b'{"half a li'
    )

    lines = render(journey(read_spans(tmp_path), "r1"))

    assert [line.split()[0] for line in lines] == ["client", "client", "tickets", "payments"]
    assert "POST /api/orders" in lines[1]
    assert lines[2].startswith("    tickets")  # nested under the call that caused it
    assert lines[3].endswith("FAILED")
    assert "+     4.0 ms      5.0 ms" in lines[2]
    assert journey(read_spans(tmp_path), "unknown") == []
