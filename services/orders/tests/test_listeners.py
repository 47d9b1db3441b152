"""Ticket, expiration and payment events, each applied once and in order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from bson import ObjectId

from orders.models import TicketReplica
from tixcommon.bus import EventBus, Publisher
from tixcommon.events import ExpirationComplete, PaymentCreated, TicketCreated, TicketUpdated
from tixtest import (
    SignedInUser,
    consumers_idle,
    stream_messages,
    wait_for_event,
    wait_until,
)

ORDERS = "/api/orders"
ListTicket = Callable[..., Awaitable[dict[str, Any]]]


async def place(client: httpx.AsyncClient, buyer: SignedInUser, ticket: dict[str, Any]) -> Any:
    response = await client.post(ORDERS, json={"ticketId": ticket["id"]}, headers=buyer.headers)
    assert response.status_code == 201
    return response.json()


async def order_state(client: httpx.AsyncClient, buyer: SignedInUser, order: Any) -> Any:
    return (await client.get(f"{ORDERS}/{order['id']}", headers=buyer.headers)).json()


def payment(order: Any) -> PaymentCreated:
    return PaymentCreated(id=str(ObjectId()), order_id=order["id"], stripe_id="pi_123")


async def test_ticket_updates_apply_in_version_order_whatever_the_arrival(
    client: httpx.AsyncClient, publish: Publisher
) -> None:
    ticket_id = str(ObjectId())

    def update(version: int, title: str) -> TicketUpdated:
        return TicketUpdated(
            id=ticket_id, version=version, title=title, price=version + 1, user_id="e" * 24
        )

    await publish.publish(update(2, "v2"))
    await publish.publish(update(1, "v1"))
    await publish.publish(
        TicketCreated(id=ticket_id, version=0, title="v0", price=1, user_id="e" * 24)
    )
    await publish.publish(update(1, "v1 again"))

    async def at_v2() -> bool:
        replica = await TicketReplica.get(ObjectId(ticket_id))
        return replica is not None and replica.version == 2

    await wait_until(at_v2, message="replica at version 2")
    replica = await TicketReplica.get(ObjectId(ticket_id))
    assert replica is not None
    assert (replica.title, replica.price_cents) == ("v2", 300)


async def test_ticket_edit_reaches_new_orders(
    client: httpx.AsyncClient, buyer: SignedInUser, list_ticket: ListTicket, publish: Publisher
) -> None:
    ticket = await list_ticket("Old", 10)
    await publish.publish(
        TicketUpdated(id=ticket["id"], version=1, title="New", price=12, user_id="e" * 24)
    )

    async def renamed() -> bool:
        replica = await TicketReplica.get(ObjectId(ticket["id"]))
        return replica is not None and replica.title == "New"

    await wait_until(renamed, message="edit replicated")
    order = await place(client, buyer, ticket)
    assert order["ticket"] == {"id": ticket["id"], "title": "New", "price": 12}


async def test_expiration_cancels_a_live_order(
    client: httpx.AsyncClient,
    buyer: SignedInUser,
    list_ticket: ListTicket,
    publish: Publisher,
    bus: EventBus,
) -> None:
    order = await place(client, buyer, await list_ticket())

    await publish.publish(ExpirationComplete(order_id=order["id"]))

    event = await wait_for_event(bus, "order.cancelled", lambda e: e["id"] == order["id"])
    assert event["version"] == 1
    assert (await order_state(client, buyer, order))["status"] == "cancelled"


async def test_payment_completes_the_order_once(
    client: httpx.AsyncClient,
    buyer: SignedInUser,
    list_ticket: ListTicket,
    publish: Publisher,
    bus: EventBus,
) -> None:
    order = await place(client, buyer, await list_ticket())
    paid = payment(order)

    await publish.publish(paid)
    await publish.publish(paid)  # delivered twice

    event = await wait_for_event(bus, "order.completed", lambda e: e["id"] == order["id"])
    assert event == {"id": order["id"], "version": 1, "ticket": {"id": order["ticket"]["id"]}}
    await wait_until(
        lambda: consumers_idle(bus, "orders-payment-created"), message="both payments handled"
    )
    assert len(await stream_messages(bus, "order.completed")) == 1
    state = await order_state(client, buyer, order)
    assert (state["status"], state["version"]) == ("complete", 1)


async def test_completed_order_cannot_be_cancelled_or_expired(
    client: httpx.AsyncClient,
    buyer: SignedInUser,
    list_ticket: ListTicket,
    publish: Publisher,
    bus: EventBus,
    make_user: Callable[..., SignedInUser],
) -> None:
    ticket = await list_ticket()
    order = await place(client, buyer, ticket)
    await publish.publish(payment(order))
    await wait_for_event(bus, "order.completed", lambda e: e["id"] == order["id"])

    cancel = await client.delete(f"{ORDERS}/{order['id']}", headers=buyer.headers)
    await publish.publish(ExpirationComplete(order_id=order["id"]))
    await wait_until(
        lambda: consumers_idle(bus, "orders-expiration-complete"), message="expiry handled"
    )

    assert (cancel.status_code, cancel.json()) == (
        400,
        {"errors": [{"message": "Cannot cancel a completed order"}]},
    )
    assert (await order_state(client, buyer, order))["status"] == "complete"
    assert await stream_messages(bus, "order.cancelled") == []
    # A sold ticket stays sold.
    again = await client.post(ORDERS, json={"ticketId": ticket["id"]}, headers=make_user().headers)
    assert again.status_code == 400


async def test_payment_for_a_cancelled_order_is_not_applied(
    client: httpx.AsyncClient,
    buyer: SignedInUser,
    list_ticket: ListTicket,
    publish: Publisher,
    bus: EventBus,
) -> None:
    order = await place(client, buyer, await list_ticket())
    await client.delete(f"{ORDERS}/{order['id']}", headers=buyer.headers)

    await publish.publish(payment(order))

    await wait_until(
        lambda: consumers_idle(bus, "orders-payment-created"), message="payment handled"
    )
    assert (await order_state(client, buyer, order))["status"] == "cancelled"
    assert await stream_messages(bus, "order.completed") == []


async def test_expiry_of_a_cancelled_order_changes_nothing(
    client: httpx.AsyncClient,
    buyer: SignedInUser,
    list_ticket: ListTicket,
    publish: Publisher,
    bus: EventBus,
) -> None:
    order = await place(client, buyer, await list_ticket())
    await client.delete(f"{ORDERS}/{order['id']}", headers=buyer.headers)

    await publish.publish(ExpirationComplete(order_id=order["id"]))

    await wait_until(
        lambda: consumers_idle(bus, "orders-expiration-complete"), message="expiry handled"
    )
    state = await order_state(client, buyer, order)
    assert (state["status"], state["version"]) == ("cancelled", 1)
    assert len(await stream_messages(bus, "order.cancelled")) == 1
