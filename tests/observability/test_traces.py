"""One purchase is one trace: the order placed from the web client, through auth and orders, and
the event it causes handled by tickets, expiration and payments, as `tix trace` prints it from
the spans `tix dev` keeps on disk."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid

import httpx

from tixcommon.tracing import REQUEST_ID_ATTRIBUTE
from tixtest.otlp import OtlpReceiver, ReceivedSpan
from tixtest.stack import RunningStack, eventually

TRACED = ("client", "auth", "orders", "tickets", "expiration", "payments")


def tix_trace(fleet: RunningStack, request_id: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tixdev", "trace", request_id],
        env=fleet.env, capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip


def place_order_as_a_browser(gateway: str, ticket_id: str) -> str:
    """Sign up (the session cookie), then post the ticket's purchase form with its token and a
    request id of our own; that request id."""
    with httpx.Client(base_url=gateway, timeout=15) as browser:
        email = f"{uuid.uuid4().hex[:10]}@example.com"
        signup = browser.post("/api/users/signup", json={"email": email, "password": "pw123456"})
        assert signup.status_code == 201

        def purchase() -> str | None:
            request_id = f"trace-{uuid.uuid4().hex[:12]}"
            page = browser.get(f"/tickets/{ticket_id}").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert token, page
            placed = browser.post(
                f"/tickets/{ticket_id}/purchase", data={"csrf_token": token.group(1)},
                headers={"x-request-id": request_id},
            )  # fmt: skip
            return request_id if placed.status_code == 303 else None  # the listing may lag

        request_id: str = eventually(purchase, 10, "order placed")
        return request_id


def order_a_new_listing(fleet: RunningStack) -> str:
    """A seller lists a ticket and a browser orders it: the order request's id."""
    seller = fleet.sign_up()
    listed = httpx.post(
        f"{fleet.gateway}/api/tickets", json={"title": "Traced gala", "price": 40}, headers=seller
    )
    assert listed.status_code == 201
    return place_order_as_a_browser(fleet.gateway, listed.json()["id"])


def test_an_order_placed_in_the_browser_is_one_trace_across_every_service(
    fleet: RunningStack,
) -> None:
    request_id = order_a_new_listing(fleet)

    def journey() -> str | None:
        printed = tix_trace(fleet, request_id).stdout
        return printed if all(f"{name} " in printed for name in TRACED) else None

    printed = eventually(journey, 15, "every service in the trace")
    lines = printed.splitlines()
    assert lines[0].startswith("client"), printed  # the root: the browser's request
    assert any("POST /api/orders" in line and line.lstrip().startswith("orders") for line in lines)
    for consumer in ("tickets", "expiration", "payments"):
        assert any(
            line.lstrip().startswith(consumer) and "order.created process" in line for line in lines
        ), printed
    assert len({line[: len(line) - len(line.lstrip())] for line in lines}) >= 3  # nested

    # Unpaid, the reservation lapses (in 3 s here): its timer fires in the same trace.
    def lapsed() -> str | None:
        printed = tix_trace(fleet, request_id).stdout
        return printed if "order.cancelled process" in printed else None

    printed = eventually(lapsed, 20, "the expiry in the order's trace")
    assert "expiration-worker  expiration fire" in printed
    assert "orders             expiration.complete process" in printed


def test_the_same_trace_is_exported_over_otlp_when_an_endpoint_is_set(
    fleet: RunningStack, collector: tuple[OtlpReceiver, str]
) -> None:
    received, _ = collector
    request_id = order_a_new_listing(fleet)

    def the_trace() -> list[ReceivedSpan] | None:
        named = received.with_attribute(REQUEST_ID_ATTRIBUTE, request_id)
        spans = received.of_trace(named[0].trace_id) if named else []
        return spans if {span.service for span in spans} >= set(TRACED) else None

    spans = eventually(the_trace, 15, "every service's spans at the collector")
    names = {(span.service, span.name) for span in spans}
    assert ("orders", "POST /api/orders") in names
    assert ("payments", "order.created process") in names
    assert any(span.service == "orders" and span.name.startswith("orders.") for span in spans)
    assert received.content_types == {"application/x-protobuf"}


def test_logs_carry_the_trace_beside_the_request_id(fleet: RunningStack) -> None:
    request_id = f"logged-{uuid.uuid4().hex[:12]}"
    answer = httpx.get(f"{fleet.gateway}/api/tickets", headers={"x-request-id": request_id})
    assert answer.status_code == 200

    [line] = [line for line in fleet.reader.wait_for(request_id, timeout=15) if request_id in line][
        -1:
    ]
    entry = json.loads(line[line.index("{") :])
    assert entry["request_id"] == request_id
    assert re.fullmatch(r"[0-9a-f]{32}", entry["trace_id"])
    assert re.fullmatch(r"[0-9a-f]{16}", entry["span_id"])


def test_an_unknown_request_says_so(fleet: RunningStack) -> None:
    answered = tix_trace(fleet, "no-such-request")
    assert answered.returncode == 1
    assert "no spans of request no-such-request" in answered.stdout


def test_a_reset_links_token_is_never_in_a_span(fleet: RunningStack) -> None:
    """The reset page is opened with the link's token in its query: its span keeps the page
    and names the parameter, never its value (tixcommon.tracing.redact_query)."""
    secret = f"secret{uuid.uuid4().hex}"
    request_id = f"reset-page-{uuid.uuid4().hex[:12]}"
    page = httpx.get(
        f"{fleet.gateway}/auth/reset",
        params={"token": secret},
        headers={"x-request-id": request_id},
    )
    assert page.status_code == 200

    def spans_of_the_page() -> list[str]:
        lines = [
            line
            for path in (fleet.data_dir / "spans").glob("*")
            for line in path.read_text().splitlines()
            if request_id in line
        ]
        return lines

    lines = eventually(spans_of_the_page, 15, "the reset page's spans")
    assert any("token=REDACTED" in line for line in lines), lines
    everything = "".join(p.read_text() for p in (fleet.data_dir / "spans").glob("*"))
    assert secret not in everything
