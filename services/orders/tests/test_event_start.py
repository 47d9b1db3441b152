"""Orders and the start of the ticket's event: a started event cannot be ordered, and a
reservation never outlives the event it is for."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from bson import ObjectId

from orders.app import create_app
from orders.models import TicketReplica
from orders.settings import OrdersSettings
from tixcommon.bus import EventBus, Publisher
from tixcommon.events import TicketCreated, TicketUpdated
from tixcommon.settings import load_settings
from tixtest import SignedInUser, serve_app, stream_messages, wait_for_event, wait_until

ORDERS = "/api/orders"
ListTicket = Callable[..., Awaitable[dict[str, Any]]]


def from_now(**delta: float) -> datetime:
    return datetime.now(UTC) + timedelta(**delta)


async def test_an_event_that_has_started_cannot_be_ordered(
    client: httpx.AsyncClient, buyer: SignedInUser, list_ticket: ListTicket, bus: EventBus
) -> None:
    ticket = await list_ticket(starts_at=from_now(minutes=-5))

    response = await client.post(ORDERS, json={"ticketId": ticket["id"]}, headers=buyer.headers)

    assert (response.status_code, response.json()) == (
        400,
        {"errors": [{"message": "Event has already started", "field": "ticketId"}]},
    )
    assert await stream_messages(bus, "order.created") == []


async def test_an_event_less_than_a_minute_away_is_too_late_to_order(
    client: httpx.AsyncClient, buyer: SignedInUser, list_ticket: ListTicket, bus: EventBus
) -> None:
    ticket = await list_ticket(starts_at=from_now(seconds=30))

    response = await client.post(ORDERS, json={"ticketId": ticket["id"]}, headers=buyer.headers)

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"message": "Event starts in less than a minute", "field": "ticketId"}
    ]
    assert await stream_messages(bus, "order.created") == []


async def test_a_later_event_is_ordered_with_the_usual_window(
    client: httpx.AsyncClient, buyer: SignedInUser, list_ticket: ListTicket
) -> None:
    ticket = await list_ticket(starts_at=from_now(days=3))

    response = await client.post(ORDERS, json={"ticketId": ticket["id"]}, headers=buyer.headers)

    assert response.status_code == 201
    expires = datetime.fromisoformat(response.json()["expiresAt"])
    assert from_now(seconds=55) < expires < from_now(seconds=61)  # the window here is 60 s


async def test_a_moved_start_reaches_the_replica_and_is_checked(
    client: httpx.AsyncClient,
    buyer: SignedInUser,
    list_ticket: ListTicket,
    publish: Publisher,
) -> None:
    ticket = await list_ticket(starts_at=from_now(days=3))
    started = from_now(seconds=-1)
    await publish.publish(
        TicketUpdated(
            id=ticket["id"], version=1, title="Concert", price=20, user_id="e" * 24,
            starts_at=started,
        )
    )  # fmt: skip

    async def moved() -> bool:
        replica = await TicketReplica.get(ObjectId(ticket["id"]))
        return replica is not None and replica.version == 1

    await wait_until(moved, message="the moved start replicated")
    response = await client.post(ORDERS, json={"ticketId": ticket["id"]}, headers=buyer.headers)

    assert response.json()["errors"][0]["message"] == "Event has already started"


@pytest.fixture
async def long_window(
    service_env: dict[str, str], mail_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("EXPIRATION_WINDOW_SECONDS", "900")
    async with serve_app(create_app(load_settings(OrdersSettings))) as http:
        yield http


async def test_an_order_close_to_the_event_expires_when_the_event_starts(
    long_window: httpx.AsyncClient, buyer: SignedInUser, publish: Publisher, bus: EventBus
) -> None:
    starts = from_now(minutes=5).replace(microsecond=0)
    event = TicketCreated(
        id=str(ObjectId()), version=0, title="Late show", price=20, user_id="e" * 24,
        starts_at=starts,
    )  # fmt: skip
    await publish.publish(event)
    await wait_until(lambda: _replicated(event.id), message="ticket replicated")

    response = await long_window.post(ORDERS, json={"ticketId": event.id}, headers=buyer.headers)

    assert response.status_code == 201
    assert datetime.fromisoformat(response.json()["expiresAt"]) == starts
    order_id = response.json()["id"]
    created = await wait_for_event(bus, "order.created", lambda e: e["id"] == order_id)
    assert datetime.fromisoformat(created["expiresAt"]) == starts


async def _replicated(ticket_id: str) -> bool:
    return await TicketReplica.get(ObjectId(ticket_id)) is not None
