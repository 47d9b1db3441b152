"""What every process measures: requests by route template, the outbox's depth and age, and the
metrics port that serves them (a real HTTP server on a free port)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from bson import ObjectId
from fastapi import FastAPI
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient

from tixcommon.bus import Outbox
from tixcommon.metrics import serving_metrics
from tixcommon.middleware import EdgeMiddleware
from tixtest import free_port

DURATION = "http_server_request_duration_seconds_count"


def requests_counted(method: str, route: str, status: str) -> float:
    labels = {
        "http_request_method": method,
        "http_route": route,
        "http_response_status_code": status,
    }
    return REGISTRY.get_sample_value(DURATION, labels) or 0.0


@pytest.fixture
def edge_app() -> FastAPI:
    app = FastAPI()

    @app.get("/api/widgets/{widget_id}")
    async def widget(widget_id: str) -> dict[str, str]:
        return {"id": widget_id}

    app.add_middleware(EdgeMiddleware, max_body_bytes=1024)
    return app


async def test_requests_are_counted_by_route_template_method_and_status(
    edge_app: FastAPI,
) -> None:
    transport = httpx.ASGITransport(app=edge_app)
    before = {
        "found": requests_counted("GET", "/api/widgets/{widget_id}", "200"),
        "unrouted": requests_counted("GET", "unmatched", "404"),
        "odd": requests_counted("_OTHER", "/api/widgets/{widget_id}", "405"),
    }

    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
        for widget_id in (str(ObjectId()), str(ObjectId())):
            assert (await client.get(f"/api/widgets/{widget_id}")).status_code == 200
        assert (await client.get("/nowhere/at/all")).status_code == 404
        assert (await client.request("BREW", "/api/widgets/x")).status_code == 405

    assert requests_counted("GET", "/api/widgets/{widget_id}", "200") == before["found"] + 2
    assert requests_counted("GET", "unmatched", "404") == before["unrouted"] + 1
    assert requests_counted("_OTHER", "/api/widgets/{widget_id}", "405") == before["odd"] + 1


def test_metrics_are_served_on_their_own_port_only_while_configured() -> None:
    port = free_port()
    with serving_metrics(port, "127.0.0.1"):
        exposition = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics")
    with serving_metrics(None, "127.0.0.1"):
        pass  # no port, no server: nothing to stop either

    assert "# TYPE http_server_request_duration_seconds histogram" in exposition
    assert "tixvibe_events_handled_total" in exposition


async def test_the_outbox_says_how_many_entries_wait_and_for_how_long(
    mongo: AsyncMongoClient[Any], database_name: str
) -> None:
    outbox = Outbox(mongo, mongo[database_name]["outbox"])
    await outbox.sample_depth()
    empty_age = REGISTRY.get_sample_value("tixvibe_outbox_oldest_entry_age_seconds")
    waited = datetime.now(UTC) - timedelta(seconds=30)
    await outbox.collection.insert_many(
        [{"_id": ObjectId.from_datetime(waited), "createdAt": waited}, {"createdAt": waited}]
    )

    await outbox.sample_depth()

    assert empty_age == 0
    assert REGISTRY.get_sample_value("tixvibe_outbox_entries") == 2
    age = REGISTRY.get_sample_value("tixvibe_outbox_oldest_entry_age_seconds")
    assert age is not None
    assert 30 <= age < 60
