"""Listings of many seats: an order takes 1 to 10 of them in one conditional write or none,
however many buyers race; a cancel or an expiry gives back exactly that order's seats, once;
and the seller's changes to the quantity reach the count (real NATS and Mongo-wire servers)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from bson import ObjectId

from orders.models import TicketReplica
from tixcommon.bus import EventBus, Publisher
from tixcommon.events import ExpirationComplete, TicketUpdated
from tixtest import SignedInUser, wait_for_event, wait_until

ORDERS = "/api/orders"
ListTicket = Callable[..., Awaitable[dict[str, Any]]]


async def free_seats(ticket_id: str) -> int:
    replica = await TicketReplica.get(ObjectId(ticket_id))
    assert replica is not None
    return replica.free


async def order(
    client: httpx.AsyncClient, buyer: SignedInUser, ticket_id: str, quantity: int
) -> httpx.Response:
    return await client.post(
        ORDERS, json={"ticketId": ticket_id, "quantity": quantity}, headers=buyer.headers
    )


async def test_an_order_takes_its_seats_and_says_how_many(
    client: httpx.AsyncClient, buyer: SignedInUser, list_ticket: ListTicket, bus: EventBus
) -> None:
    ticket = await list_ticket("Choir", 12.5, quantity=5)

    placed = await order(client, buyer, ticket["id"], 3)

    assert placed.status_code == 201
    body = placed.json()
    assert body["quantity"] == 3
    assert body["ticket"]["price"] == 12.5  # one seat's: the payment charges 3 x 12.50
    event = await wait_for_event(bus, "order.created", lambda e: e["id"] == body["id"])
    assert (event["quantity"], event["ticket"]["price"]) == (3, 12.5)
    assert await free_seats(ticket["id"]) == 2


async def test_more_seats_than_are_left_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, buyer: SignedInUser, list_ticket: ListTicket
) -> None:
    ticket = await list_ticket(quantity=4)
    assert (await order(client, buyer, ticket["id"], 3)).status_code == 201

    refused = await order(client, buyer, ticket["id"], 2)

    assert refused.status_code == 400
    assert refused.json() == {
        "errors": [{"message": "Not enough seats available", "field": "quantity"}]
    }
    assert await free_seats(ticket["id"]) == 1
    assert (await order(client, buyer, ticket["id"], 1)).status_code == 201
    assert (await order(client, buyer, ticket["id"], 1)).status_code == 400
    mine = (await client.get(ORDERS, headers=buyer.headers)).json()
    assert [placed["quantity"] for placed in mine] == [3, 1]


@pytest.mark.parametrize("quantity", [0, 11, -1, 2.5, "two", "²", 1e308, True, None, [2]])
async def test_a_quantity_outside_1_to_10_is_a_400_naming_it(
    client: httpx.AsyncClient, buyer: SignedInUser, list_ticket: ListTicket, quantity: object
) -> None:
    ticket = await list_ticket(quantity=20)

    refused = await order(client, buyer, ticket["id"], quantity)  # type: ignore[arg-type]

    assert refused.status_code == 400
    assert refused.json() == {
        "errors": [
            {
                "message": "Quantity must be a whole number of seats from 1 to 10",
                "field": "quantity",
            }
        ]
    }
    assert await free_seats(ticket["id"]) == 20


async def test_a_quantity_may_come_as_digits_and_defaults_to_one(
    client: httpx.AsyncClient, buyer: SignedInUser, list_ticket: ListTicket
) -> None:
    ticket = await list_ticket(quantity=5)

    as_text = await order(client, buyer, ticket["id"], "2")  # type: ignore[arg-type]
    left_out = await client.post(ORDERS, json={"ticketId": ticket["id"]}, headers=buyer.headers)

    assert (as_text.json()["quantity"], left_out.json()["quantity"]) == (2, 1)
    assert await free_seats(ticket["id"]) == 2


async def test_buyers_racing_for_seats_take_exactly_those_there_are(
    client: httpx.AsyncClient, list_ticket: ListTicket, make_user: Callable[..., SignedInUser]
) -> None:
    buyers = [make_user() for _ in range(60)]
    ticket = await list_ticket(quantity=25)

    answers = await asyncio.gather(*(order(client, buyer, ticket["id"], 2) for buyer in buyers))

    statuses = [answer.status_code for answer in answers]
    assert statuses.count(201) == 12  # 24 seats; the last one is too few for a pair
    assert statuses.count(400) == 48
    assert await free_seats(ticket["id"]) == 1
    assert (await order(client, buyers[0], ticket["id"], 1)).status_code == 201


async def test_a_cancel_gives_back_exactly_its_seats_once(
    client: httpx.AsyncClient, buyer: SignedInUser, list_ticket: ListTicket, bus: EventBus
) -> None:
    ticket = await list_ticket(quantity=6)
    kept = (await order(client, buyer, ticket["id"], 2)).json()
    cancelled = (await order(client, buyer, ticket["id"], 3)).json()

    for _ in range(2):  # the second cancel is a no-op
        response = await client.delete(f"{ORDERS}/{cancelled['id']}", headers=buyer.headers)
        assert response.status_code == 204

    assert await free_seats(ticket["id"]) == 4
    await wait_for_event(bus, "order.cancelled", lambda e: e["id"] == cancelled["id"])
    assert (await client.get(f"{ORDERS}/{kept['id']}", headers=buyer.headers)).json()[
        "status"
    ] == "created"


async def test_an_expiry_gives_back_the_seats_of_an_unpaid_order(
    client: httpx.AsyncClient, buyer: SignedInUser, list_ticket: ListTicket, publish: Publisher
) -> None:
    ticket = await list_ticket(quantity=3)
    placed = (await order(client, buyer, ticket["id"], 3)).json()
    assert await free_seats(ticket["id"]) == 0

    for _ in range(2):  # a redelivered expiry gives nothing back twice
        await publish.publish(ExpirationComplete(order_id=placed["id"]))

    async def lapsed() -> bool:
        shown = await client.get(f"{ORDERS}/{placed['id']}", headers=buyer.headers)
        return bool(shown.json()["status"] == "cancelled")

    await wait_until(lapsed, message="order lapsed")
    await wait_until(lambda: _is(free_seats(ticket["id"]), 3), message="seats back")
    assert await free_seats(ticket["id"]) == 3


async def _is(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def test_the_sellers_quantity_changes_reach_the_count(
    client: httpx.AsyncClient, buyer: SignedInUser, list_ticket: ListTicket, publish: Publisher
) -> None:
    ticket = await list_ticket(quantity=10)
    assert (await order(client, buyer, ticket["id"], 4)).status_code == 201

    def edit(version: int, quantity: int) -> TicketUpdated:
        return TicketUpdated(
            id=ticket["id"], version=version, title=ticket["title"], price=ticket["price"],
            user_id=ticket["userId"], quantity=quantity,
        )  # fmt: skip

    await publish.publish(edit(1, 6))  # lowered to 6: 4 held, 2 free
    await wait_until(lambda: _is(free_seats(ticket["id"]), 2), message="lowered")
    await publish.publish(edit(1, 6))  # a redelivery changes nothing
    await publish.publish(edit(2, 9))  # raised to 9: 5 free
    await wait_until(lambda: _is(free_seats(ticket["id"]), 5), message="raised")
    assert (await order(client, buyer, ticket["id"], 6)).status_code == 400
    assert (await order(client, buyer, ticket["id"], 5)).status_code == 201


async def test_a_retried_order_with_its_idempotency_key_takes_its_seats_once(
    client: httpx.AsyncClient, buyer: SignedInUser, list_ticket: ListTicket
) -> None:
    ticket = await list_ticket(quantity=5)
    body = {"ticketId": ticket["id"], "quantity": 2}
    headers = {**buyer.headers, "Idempotency-Key": "order-once"}

    answers = [await client.post(ORDERS, json=body, headers=headers) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [201, 201, 201]
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert await free_seats(ticket["id"]) == 3
    assert len((await client.get(ORDERS, headers=buyer.headers)).json()) == 1
