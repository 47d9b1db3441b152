"""Listings of many seats: the seat count, taken by each order's `order.created` once, given
back by its `order.cancelled` once (never another order's seats), edits while seats are held,
and what the seller sees of seats sold, held and left."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
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
from tixtest import SignedInUser, consumers_idle, wait_for_event, wait_until

TICKETS = "/api/tickets"


def order_for(
    ticket: dict[str, Any], seats: int, *, version: int | None = None, order_id: str | None = None
) -> OrderCreated:
    return OrderCreated(
        id=order_id or str(ObjectId()), version=0, status=OrderStatus.CREATED, user_id="d" * 24,
        expires_at=datetime.now(UTC) + timedelta(minutes=15),
        ticket=TicketPrice(id=ticket["id"], price=ticket["price"], version=version),
        quantity=seats,
    )  # fmt: skip


def cancel_of(order: OrderCreated) -> OrderCancelled:
    return OrderCancelled(id=order.id, version=1, ticket=TicketRef(id=order.ticket.id))


async def shown(client: httpx.AsyncClient, ticket: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = (await client.get(f"{TICKETS}/{ticket['id']}")).json()
    return state


def available(
    client: httpx.AsyncClient, ticket: dict[str, Any], seats: int
) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return bool((await shown(client, ticket))["available"] == seats)

    return check


@pytest.fixture
async def hall(client: httpx.AsyncClient, seller: SignedInUser) -> dict[str, Any]:
    response = await client.post(
        TICKETS, json={"title": "Hall", "price": 30, "quantity": 10}, headers=seller.headers
    )
    assert response.status_code == 201
    ticket: dict[str, Any] = response.json()
    return ticket


async def test_a_listing_of_many_seats_says_how_many_and_announces_them(
    client: httpx.AsyncClient, seller: SignedInUser, bus: EventBus
) -> None:
    created = await client.post(
        TICKETS, json={"title": "Arena", "price": 45, "quantity": "500"}, headers=seller.headers
    )

    assert created.status_code == 201
    ticket = created.json()
    assert (ticket["quantity"], ticket["available"], ticket["status"]) == (500, 500, "available")
    assert "orderId" not in ticket
    event = await wait_for_event(bus, "ticket.created", lambda e: e["id"] == ticket["id"])
    assert (event["quantity"], event["available"]) == (500, 500)
    [listed] = [t for t in (await client.get(TICKETS)).json() if t["id"] == ticket["id"]]
    assert (listed["quantity"], listed["available"]) == (500, 500)


@pytest.mark.parametrize("quantity", [0, 10_001, 1.5, "many", True, None])
async def test_a_quantity_outside_1_to_10000_is_a_400_naming_it(
    client: httpx.AsyncClient, seller: SignedInUser, quantity: object
) -> None:
    refused = await client.post(
        TICKETS, json={"title": "Arena", "price": 45, "quantity": quantity},
        headers=seller.headers,
    )  # fmt: skip

    assert refused.status_code == 400
    assert refused.json() == {
        "errors": [
            {
                "message": "Quantity must be a whole number of seats from 1 to 10000",
                "field": "quantity",
            }
        ]
    }


async def test_orders_take_their_seats_once_and_cancels_give_back_only_their_own(
    client: httpx.AsyncClient, hall: dict[str, Any], publish: Publisher, bus: EventBus
) -> None:
    first, second = order_for(hall, 3), order_for(hall, 4)
    for event in (first, first, second):  # `first` redelivered
        await publish.publish(event)
    await wait_until(available(client, hall, 3), message="seats taken")
    await wait_until(
        lambda: consumers_idle(bus, "tickets-order-created"), message="redelivery settled"
    )
    state = await shown(client, hall)
    assert (state["available"], state["version"], state["status"]) == (3, 2, "available")

    for _ in range(2):  # the cancel redelivered
        await publish.publish(cancel_of(first))
    await wait_until(available(client, hall, 6), message="seats given back")
    await wait_until(
        lambda: consumers_idle(bus, "tickets-order-cancelled"), message="cancel settled"
    )
    state = await shown(client, hall)
    assert (state["available"], state["version"]) == (6, 3)
    released = await wait_for_event(bus, "ticket.updated", lambda e: e["version"] == 3)
    assert (released["id"], released["available"], released["quantity"]) == (hall["id"], 6, 10)


async def test_sold_out_leaves_the_listing_and_a_cancel_brings_it_back(
    client: httpx.AsyncClient, hall: dict[str, Any], publish: Publisher
) -> None:
    orders = [order_for(hall, 5), order_for(hall, 5)]
    for event in orders:
        await publish.publish(event)
    await wait_until(available(client, hall, 0), message="sold out")
    assert hall["id"] not in [t["id"] for t in (await client.get(TICKETS)).json()]
    assert (await shown(client, hall))["status"] == "reserved"

    await publish.publish(cancel_of(orders[0]))
    await wait_until(available(client, hall, 5), message="seats back")
    assert hall["id"] in [t["id"] for t in (await client.get(TICKETS)).json()]


async def test_an_order_that_does_not_fit_waits_for_the_cancel_orders_made_first(
    client: httpx.AsyncClient, hall: dict[str, Any], publish: Publisher, bus: EventBus
) -> None:
    holder = order_for(hall, 8)
    await publish.publish(holder)
    await wait_until(available(client, hall, 2), message="held")
    # Orders cancelled `holder` and sold its seats again; the cancel is still on its way.
    newer = order_for(hall, 6)
    await publish.publish(newer)
    await publish.publish(cancel_of(holder))

    await wait_until(available(client, hall, 4), message="cancel then the newer order")
    assert (await shown(client, hall))["quantity"] == 10


async def test_edits_while_seats_are_held_keep_the_seats_and_refuse_too_low_a_quantity(
    client: httpx.AsyncClient, hall: dict[str, Any], seller: SignedInUser, publish: Publisher
) -> None:
    await publish.publish(order_for(hall, 4))
    await wait_until(available(client, hall, 6), message="held")
    url = f"{TICKETS}/{hall['id']}"

    too_low = await client.put(
        url, json={"title": "Hall", "price": 30, "quantity": 3}, headers=seller.headers
    )
    assert too_low.status_code == 400
    assert too_low.json() == {
        "errors": [
            {
                "message": "Quantity cannot be lower than the 4 seats already held",
                "field": "quantity",
            }
        ]
    }
    edited = await client.put(
        url, json={"title": "Grand Hall", "price": 35}, headers=seller.headers
    )
    assert edited.status_code == 200
    assert (edited.json()["title"], edited.json()["quantity"]) == ("Grand Hall", 10)
    lowered = await client.put(
        url, json={"title": "Grand Hall", "price": 35, "quantity": 4}, headers=seller.headers
    )
    assert (lowered.json()["quantity"], lowered.json()["available"]) == (4, 0)
    assert lowered.json()["status"] == "reserved"


async def test_seats_sold_before_orders_heard_of_a_lower_quantity_are_kept(
    client: httpx.AsyncClient, hall: dict[str, Any], seller: SignedInUser, publish: Publisher
) -> None:
    """Orders counted against version 0's ten seats while the seller lowered them to six: the
    owner keeps the order (the quantity grows back to fit) rather than selling more seats
    than it lists."""
    await publish.publish(order_for(hall, 5, version=0))
    await wait_until(available(client, hall, 5), message="held")
    lowered = await client.put(
        f"{TICKETS}/{hall['id']}", json={"title": "Hall", "price": 30, "quantity": 6},
        headers=seller.headers,
    )  # fmt: skip
    assert lowered.json()["available"] == 1

    await publish.publish(order_for(hall, 3, version=1))  # placed before the edit reached it

    await wait_until(available(client, hall, 0), message="kept")
    state = await shown(client, hall)
    assert (state["quantity"], state["available"]) == (8, 0)


async def test_the_seller_sees_seats_sold_held_and_left(
    client: httpx.AsyncClient, hall: dict[str, Any], seller: SignedInUser, publish: Publisher
) -> None:
    paid, pending = order_for(hall, 3), order_for(hall, 2)
    for event in (paid, pending):
        await publish.publish(event)
    await wait_until(available(client, hall, 5), message="held")
    await publish.publish(OrderCompleted(id=paid.id, version=1, ticket=TicketRef(id=hall["id"])))

    async def sold() -> dict[str, Any] | None:
        [mine] = (await client.get(f"{TICKETS}/mine", headers=seller.headers)).json()
        return mine if mine["sold"] == 3 else None

    await wait_until(sold, message="sold counted")
    [mine] = (await client.get(f"{TICKETS}/mine", headers=seller.headers)).json()
    assert (mine["quantity"], mine["available"], mine["sold"]) == (10, 5, 3)
    assert mine["status"] == "available"
