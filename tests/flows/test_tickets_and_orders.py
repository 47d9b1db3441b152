"""Whole flows across tickets and orders through real JetStream."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from flows_support import TICKETS_AND_ORDERS_DURABLES, Platform

from tixcommon.bus import EventBus, Publisher
from tixcommon.events import ExpirationComplete
from tixtest import SignedInUser, consumers_idle, stream_messages, wait_until


async def list_ticket(platform: Platform, seller: SignedInUser, **body: Any) -> Any:
    response = await platform.tickets.post(
        "/api/tickets", json={"title": "Gig", "price": 15, **body}, headers=seller.headers
    )
    assert response.status_code == 201
    return response.json()


async def order(platform: Platform, buyer: SignedInUser, ticket: Any) -> Any:
    """Place an order as soon as orders knows the ticket (it learns of it by event)."""

    async def attempt() -> Any:
        response = await platform.orders.post(
            "/api/orders", json={"ticketId": ticket["id"]}, headers=buyer.headers
        )
        return response if response.status_code != 404 else None

    response = await wait_until(attempt, message="ticket orderable")
    assert response.status_code == 201, response.text
    return response.json()


async def ticket_in_tickets(platform: Platform, ticket: Any) -> Any:
    return (await platform.tickets.get(f"/api/tickets/{ticket['id']}")).json()


async def test_listed_ticket_becomes_orderable_and_ordering_reserves_it(
    platform: Platform, make_user: Callable[..., SignedInUser]
) -> None:
    seller, buyer = make_user(), make_user()
    ticket = await list_ticket(platform, seller)

    placed = await order(platform, buyer, ticket)

    async def reserved() -> bool:
        return bool((await ticket_in_tickets(platform, ticket)).get("orderId") == placed["id"])

    await wait_until(reserved, message="reserved in tickets")
    assert (await platform.tickets.get("/api/tickets")).json() == []
    edit = await platform.tickets.put(
        f"/api/tickets/{ticket['id']}", json={"title": "x", "price": 1}, headers=seller.headers
    )
    assert edit.status_code == 400


async def test_cancelling_releases_the_ticket_for_the_next_buyer(
    platform: Platform, make_user: Callable[..., SignedInUser]
) -> None:
    seller, first, second = make_user(), make_user(), make_user()
    ticket = await list_ticket(platform, seller)
    placed = await order(platform, first, ticket)
    await wait_until(
        lambda: _reserved_by(platform, ticket, placed["id"]), message="reserved by first"
    )

    cancel = await platform.orders.delete(f"/api/orders/{placed['id']}", headers=first.headers)

    assert cancel.status_code == 204
    await wait_until(lambda: _reserved_by(platform, ticket, None), message="released")
    assert [t["id"] for t in (await platform.tickets.get("/api/tickets")).json()] == [ticket["id"]]
    again = await order(platform, second, ticket)
    await wait_until(lambda: _reserved_by(platform, ticket, again["id"]), message="re-reserved")


async def test_ticket_edit_reaches_the_orders_replica(
    platform: Platform, make_user: Callable[..., SignedInUser]
) -> None:
    seller, buyer = make_user(), make_user()
    ticket = await list_ticket(platform, seller, title="Before", price=10)
    await wait_until(lambda: _orderable(platform, ticket), message="replicated")

    edited = await platform.tickets.put(
        f"/api/tickets/{ticket['id']}", json={"title": "After", "price": 11}, headers=seller.headers
    )
    assert edited.status_code == 200

    async def replica_edited() -> bool:
        from orders.models import TicketReplica

        replica = await TicketReplica.get(ticket["id"])
        return replica is not None and replica.version == 1

    await wait_until(replica_edited, message="edit replicated")
    placed = await order(platform, buyer, ticket)
    assert placed["ticket"] == {"id": ticket["id"], "title": "After", "price": 11}


async def test_replaying_every_event_again_changes_nothing(
    platform: Platform, make_user: Callable[..., SignedInUser], bus: EventBus
) -> None:
    seller, a, b = make_user(), make_user(), make_user()
    ticket = await list_ticket(platform, seller)
    first = await order(platform, a, ticket)
    await platform.orders.delete(f"/api/orders/{first['id']}", headers=a.headers)
    await wait_until(lambda: _reserved_by(platform, ticket, None), message="released")
    second = await order(platform, b, ticket)
    await wait_until(lambda: _reserved_by(platform, ticket, second["id"]), message="B holds")
    await wait_until(lambda: consumers_idle(bus, *TICKETS_AND_ORDERS_DURABLES), message="settled")
    before = await _snapshot(platform, ticket, [(a, first), (b, second)])
    published = (await bus.js.stream_info(bus.stream_name)).state.messages

    # Every event again, newest first, under new ids (so JetStream cannot drop them).
    history = []
    for subject in ("ticket.created", "ticket.updated", "order.created", "order.cancelled"):
        history += await stream_messages(bus, subject)
    for message in sorted(history, key=lambda m: -m.metadata.sequence.stream):
        await Publisher(bus).publish_raw(
            bus.contract_subject(message.subject), message.data, event_id=uuid.uuid4().hex
        )
    await wait_until(
        lambda: consumers_idle(bus, *TICKETS_AND_ORDERS_DURABLES),
        timeout=20,
        message="replay handled",
    )

    assert await _snapshot(platform, ticket, [(a, first), (b, second)]) == before
    after = (await bus.js.stream_info(bus.stream_name)).state.messages
    assert after == published + len(history)  # the replay caused no new event


async def _snapshot(platform: Platform, ticket: Any, orders: list[tuple[SignedInUser, Any]]) -> Any:
    from orders.models import TicketReplica

    replica = await TicketReplica.get(ticket["id"])
    return (
        await ticket_in_tickets(platform, ticket),
        replica.model_dump() if replica else None,
        [
            (await platform.orders.get(f"/api/orders/{o['id']}", headers=user.headers)).json()
            for user, o in orders
        ],
    )


async def test_stale_cancel_or_expiry_never_frees_the_new_reservation(
    platform: Platform, make_user: Callable[..., SignedInUser], bus: EventBus
) -> None:
    seller, a, b = make_user(), make_user(), make_user()
    ticket = await list_ticket(platform, seller)
    order_a = await order(platform, a, ticket)
    await platform.orders.delete(f"/api/orders/{order_a['id']}", headers=a.headers)
    await wait_until(lambda: _reserved_by(platform, ticket, None), message="A released")
    order_b = await order(platform, b, ticket)
    await wait_until(lambda: _reserved_by(platform, ticket, order_b["id"]), message="B holds")

    # A's late cancel and A's expiry both arrive now.
    await platform.orders.delete(f"/api/orders/{order_a['id']}", headers=a.headers)
    await Publisher(bus).publish(ExpirationComplete(order_id=order_a["id"]))
    await wait_until(
        lambda: consumers_idle(bus, "tickets-order-cancelled", "orders-expiration-complete"),
        message="late events handled",
    )

    assert (await ticket_in_tickets(platform, ticket))["orderId"] == order_b["id"]
    b_state = (await platform.orders.get(f"/api/orders/{order_b['id']}", headers=b.headers)).json()
    assert b_state["status"] == "created"


async def test_hundred_buyers_race_ten_times_one_order_each(
    platform: Platform, make_user: Callable[..., SignedInUser]
) -> None:
    seller = make_user()
    buyers = [make_user() for _ in range(100)]
    for _ in range(10):
        ticket = await list_ticket(platform, seller)
        await wait_until(partial(_orderable, platform, ticket), message="ticket replicated")

        responses = await asyncio.gather(
            *(
                platform.orders.post(
                    "/api/orders", json={"ticketId": ticket["id"]}, headers=buyer.headers
                )
                for buyer in buyers
            )
        )

        winners = [r.json() for r in responses if r.status_code == 201]
        assert len(winners) == 1
        assert sum(r.status_code == 400 for r in responses) == 99
        await wait_until(
            partial(_reserved_by, platform, ticket, winners[0]["id"]),
            message="winner reserved in tickets",
        )


async def _reserved_by(platform: Platform, ticket: Any, order_id: str | None) -> bool:
    return bool((await ticket_in_tickets(platform, ticket)).get("orderId") == order_id)


async def _orderable(platform: Platform, ticket: Any) -> bool:
    from orders.models import TicketReplica

    return await TicketReplica.get(ticket["id"]) is not None
