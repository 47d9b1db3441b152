"""The platform's one OpenAPI document, at /api/openapi.json behind the router."""

from __future__ import annotations

import httpx

from tixtest import free_port, serve_app
from tixtest.stack import RunningStack
from webclient.app import create_app
from webclient.settings import ClientSettings


def test_the_router_serves_one_document_of_every_service(platform: RunningStack) -> None:
    document = httpx.get(f"{platform.gateway}/api/openapi.json", timeout=10).json()

    prefixes = {"/" + "/".join(path.split("/")[1:3]) for path in document["paths"]}
    assert prefixes == {
        "/api/users", "/api/tickets", "/api/orders", "/api/payments", "/api/waitingroom",
        "/api/checkins",  # orders', beside /api/orders
    }  # fmt: skip
    operations = [op["operationId"] for path in document["paths"].values() for op in path.values()]
    assert len(operations) == len(set(operations))
    assert {"sign_up", "list_tickets", "place_order", "pay", "join_room", "check_in"} <= set(
        operations
    )
    # Orders' own TicketOut (a snapshot: id, title, price) is kept apart from tickets' listing.
    schemas = document["components"]["schemas"]
    assert schemas["OrderOut"]["properties"]["ticket"] == {
        "$ref": "#/components/schemas/OrdersTicketOut"
    }
    assert "quantity" in schemas["TicketOut"]["properties"]
    assert set(document["components"]["securitySchemes"]) == {"session", "bearer"}


async def test_a_service_down_makes_the_document_a_503_to_retry() -> None:
    settings = ClientSettings(api_url=f"http://127.0.0.1:{free_port()}", environment="test")
    async with serve_app(create_app(settings)) as client:
        response = await client.get("/api/openapi.json")

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json() == {
        "errors": [{"message": "The API document is unavailable, try again"}]
    }
