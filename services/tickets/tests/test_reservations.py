"""Order events reserve and release tickets, idempotently and in any order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from bson import ObjectId

from tixcommon.bus import EventBus, Publisher
from tixcommon.events import (
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    OrderStatus,
    TicketPrice,
    TicketRef,
)
from tixtest import (
    SignedInUser,
    consumers_idle,
    stream_messages,
    wait_for_event,
    wait_until,
)


def order_created(ticket: dict[str, Any], order_id: str | None = None) -> OrderCreated:
    return OrderCreated(
        id=order_id or str(ObjectId()),
        version=0,
        status=OrderStatus.CREATED,
        user_id="d" * 24,
        expires_at=datetime.now(UTC) + timedelta(minutes=15),
        ticket=TicketPrice(id=ticket["id"], price=ticket["price"]),
    )


def order_cancelled(ticket: dict[str, Any], order_id: str) -> OrderCancelled:
    return OrderCancelled(id=order_id, version=1, ticket=TicketRef(id=ticket["id"]))


async def ticket_state(client: httpx.AsyncClient, ticket: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = (await client.get(f"/api/tickets/{ticket['id']}")).json()
    return state


async def test_order_created_reserves_the_ticket(
    client: httpx.AsyncClient,
    listed: dict[str, Any],
    seller: SignedInUser,
    publish: Publisher,
    bus: EventBus,
) -> None:
    order = order_created(listed)

    await publish.publish(order)

    event = await wait_for_event(bus, "ticket.updated", lambda e: e.get("orderId") == order.id)
    assert event["version"] == 1
    assert (await ticket_state(client, listed))["orderId"] == order.id
    assert (await client.get("/api/tickets")).json() == []
    edit = await client.put(
        f"/api/tickets/{listed['id']}", json={"title": "x", "price": 1}, headers=seller.headers
    )
    assert (edit.status_code, edit.json()) == (
        400,
        {"errors": [{"message": "Cannot edit a reserved ticket"}]},
    )


async def test_redelivered_order_created_changes_nothing_and_publishes_nothing(
    client: httpx.AsyncClient, listed: dict[str, Any], publish: Publisher, bus: EventBus
) -> None:
    order = order_created(listed)
    await publish.publish(order)
    await wait_for_event(bus, "ticket.updated", lambda e: e.get("orderId") == order.id)

    await publish.publish(order)  # a new event id: JetStream cannot drop it for us

    await wait_until(
        lambda: consumers_idle(bus, "tickets-order-created"), message="duplicate handled"
    )
    assert (await ticket_state(client, listed))["version"] == 1
    assert len(await stream_messages(bus, "ticket.updated")) == 1


async def test_order_cancelled_releases_the_ticket(
    client: httpx.AsyncClient, listed: dict[str, Any], publish: Publisher, bus: EventBus
) -> None:
    order = order_created(listed)
    await publish.publish(order)
    await wait_for_event(bus, "ticket.updated", lambda e: e.get("orderId") == order.id)

    await publish.publish(order_cancelled(listed, order.id))

    event = await wait_for_event(bus, "ticket.updated", lambda e: e["version"] == 2)
    assert "orderId" not in event
    state = await ticket_state(client, listed)
    assert "orderId" not in state
    assert [t["id"] for t in (await client.get("/api/tickets")).json()] == [listed["id"]]


async def test_stale_cancel_never_frees_a_newer_reservation(
    client: httpx.AsyncClient, listed: dict[str, Any], publish: Publisher, bus: EventBus
) -> None:
    first, second = order_created(listed), order_created(listed)
    await publish.publish(first)
    await publish.publish(order_cancelled(listed, first.id))
    await publish.publish(second)
    await wait_for_event(bus, "ticket.updated", lambda e: e.get("orderId") == second.id)

    await publish.publish(order_cancelled(listed, first.id))  # late redelivery of A's cancel

    await wait_until(
        lambda: consumers_idle(bus, "tickets-order-cancelled"), message="stale cancel handled"
    )
    assert (await ticket_state(client, listed))["orderId"] == second.id


async def test_cancel_arriving_before_its_order_leaves_the_ticket_free(
    client: httpx.AsyncClient, listed: dict[str, Any], publish: Publisher, bus: EventBus
) -> None:
    order = order_created(listed)

    await publish.publish(order_cancelled(listed, order.id))
    await publish.publish(order)

    async def settled() -> bool:
        created_idle = await consumers_idle(bus, "tickets-order-created")
        cancelled_idle = await consumers_idle(bus, "tickets-order-cancelled")
        return created_idle and cancelled_idle

    await wait_until(settled, message="both events handled")
    state = await ticket_state(client, listed)
    assert "orderId" not in state
    assert [t["id"] for t in (await client.get("/api/tickets")).json()] == [listed["id"]]


async def test_next_order_waits_for_the_previous_holders_cancel(
    client: httpx.AsyncClient, listed: dict[str, Any], publish: Publisher, bus: EventBus
) -> None:
    first, second = order_created(listed), order_created(listed)
    await publish.publish(first)
    await wait_for_event(bus, "ticket.updated", lambda e: e.get("orderId") == first.id)

    await publish.publish(second)  # its holder's cancel is still on its way
    await publish.publish(order_cancelled(listed, first.id))

    await wait_for_event(bus, "ticket.updated", lambda e: e.get("orderId") == second.id)
    assert (await ticket_state(client, listed))["version"] == 3


async def test_sellers_see_their_listings_available_reserved_then_sold(
    client: httpx.AsyncClient,
    listed: dict[str, Any],
    seller: SignedInUser,
    make_user: Callable[..., SignedInUser],
    publish: Publisher,
    bus: EventBus,
) -> None:
    async def statuses() -> list[str]:
        mine = await client.get("/api/tickets/mine", headers=seller.headers)
        assert mine.status_code == 200
        return [ticket["status"] for ticket in mine.json()]

    assert await statuses() == ["available"]
    other = make_user()
    assert (await client.get("/api/tickets/mine", headers=other.headers)).json() == []
    assert (await client.get("/api/tickets/mine")).status_code == 401
    order = order_created(listed)

    await publish.publish(order)
    await wait_for_event(bus, "ticket.updated", lambda e: e.get("orderId") == order.id)
    assert await statuses() == ["reserved"]
    assert (await ticket_state(client, listed))["status"] == "reserved"

    await publish.publish(OrderCompleted(id=order.id, version=1, ticket=TicketRef(id=listed["id"])))
    await wait_until(lambda: _is(statuses, ["sold"]), message="listing sold")
    assert (await ticket_state(client, listed))["status"] == "sold"
    assert len(await stream_messages(bus, "ticket.updated")) == 1  # the ticket did not change


async def test_order_completed_before_its_creation_waits_for_it(
    client: httpx.AsyncClient,
    listed: dict[str, Any],
    publish: Publisher,
    bus: EventBus,
) -> None:
    order = order_created(listed)
    await publish.publish(OrderCompleted(id=order.id, version=1, ticket=TicketRef(id=listed["id"])))
    await publish.publish(order)

    async def sold() -> bool:
        return bool((await ticket_state(client, listed))["status"] == "sold")

    await wait_until(sold, message="completion applied once the order is known")


async def _is(read: Callable[[], Awaitable[list[str]]], expected: list[str]) -> bool:
    return await read() == expected
