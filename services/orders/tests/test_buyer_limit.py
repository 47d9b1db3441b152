"""A per-buyer limit: one account's live and complete orders of a listing hold at most
`perBuyerLimit` seats, however its orders race (one process or several), and its count of
seats follows every order, cancel, expiry and payment exactly."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from bson import ObjectId

from orders.models import BUYER_SEATS, Order, TicketReplica
from tixcommon.bus import EventBus, Publisher
from tixcommon.events import ExpirationComplete, PaymentCreated, TicketUpdated
from tixtest import SignedInUser, free_port, stream_messages, wait_until

ORDERS = "/api/orders"
ListTicket = Callable[..., Awaitable[dict[str, Any]]]


def at_most(limit: int) -> dict[str, Any]:
    return {"errors": [{"message": f"At most {limit} seats per buyer", "field": "quantity"}]}


async def order(
    client: httpx.AsyncClient, buyer: SignedInUser, ticket_id: str, quantity: int = 1
) -> httpx.Response:
    return await client.post(
        ORDERS, json={"ticketId": ticket_id, "quantity": quantity}, headers=buyer.headers
    )


async def counted(buyer: SignedInUser, ticket_id: str) -> int | None:
    """The buyer's count of seats of the ticket, as orders keeps it (None: not counted)."""
    counts = Order.get_pymongo_collection().database[BUYER_SEATS]
    count = await counts.find_one({"_id": f"{buyer.id}:{ticket_id}"})
    return None if count is None else int(count["held"])


def edit(ticket: dict[str, Any], version: int, limit: int | None) -> TicketUpdated:
    return TicketUpdated(
        id=ticket["id"], version=version, title=ticket["title"], price=ticket["price"],
        user_id=ticket["userId"], quantity=ticket["quantity"], per_buyer_limit=limit,
    )  # fmt: skip


async def applied(client: httpx.AsyncClient, ticket_id: str, version: int) -> None:
    async def reached() -> bool:
        replica = await TicketReplica.get(ObjectId(ticket_id))
        return replica is not None and replica.version == version

    await wait_until(reached, message=f"ticket version {version} replicated")


async def test_orders_past_the_limit_are_refused_and_change_nothing(
    client: httpx.AsyncClient,
    buyer: SignedInUser,
    make_user: Callable[..., SignedInUser],
    list_ticket: ListTicket,
    bus: EventBus,
) -> None:
    ticket = await list_ticket(quantity=20, per_buyer_limit=4)
    assert (await order(client, buyer, ticket["id"], 3)).status_code == 201

    too_many = await order(client, buyer, ticket["id"], 2)
    alone_too_many = await order(client, make_user(), ticket["id"], 5)

    assert (too_many.status_code, too_many.json()) == (400, at_most(4))
    assert (alone_too_many.status_code, alone_too_many.json()) == (400, at_most(4))
    assert await counted(buyer, ticket["id"]) == 3
    assert (await order(client, buyer, ticket["id"], 1)).status_code == 201
    assert (await order(client, buyer, ticket["id"], 1)).json() == at_most(4)
    # Another account has its own count.
    assert (await order(client, make_user(), ticket["id"], 4)).status_code == 201
    assert await counted(buyer, ticket["id"]) == 4
    assert len(await stream_messages(bus, "order.created")) == 3


async def test_a_ticket_without_a_limit_keeps_no_count(
    client: httpx.AsyncClient, buyer: SignedInUser, list_ticket: ListTicket
) -> None:
    ticket = await list_ticket(quantity=30)

    for _ in range(3):
        assert (await order(client, buyer, ticket["id"], 10)).status_code == 201

    assert await counted(buyer, ticket["id"]) is None


async def test_cancelled_and_lapsed_orders_give_their_seats_back_once_and_paid_ones_do_not(
    client: httpx.AsyncClient, buyer: SignedInUser, list_ticket: ListTicket, publish: Publisher
) -> None:
    ticket = await list_ticket(quantity=20, per_buyer_limit=6)
    paid, cancelled, lapsed = [
        (await order(client, buyer, ticket["id"], 2)).json()["id"] for _ in range(3)
    ]
    assert (await order(client, buyer, ticket["id"])).json() == at_most(6)

    await publish.publish(PaymentCreated(id=str(ObjectId()), order_id=paid, stripe_id="ch_1"))
    for _ in range(2):  # a second cancel, a redelivered expiry: nothing given back twice
        cancel = await client.delete(f"{ORDERS}/{cancelled}", headers=buyer.headers)
        assert cancel.status_code == 204
        await publish.publish(ExpirationComplete(order_id=lapsed))

    async def status_of(order_id: str) -> str:
        shown = await client.get(f"{ORDERS}/{order_id}", headers=buyer.headers)
        return str(shown.json()["status"])

    async def settled() -> bool:
        return [await status_of(i) for i in (paid, lapsed)] == ["complete", "cancelled"]

    await wait_until(settled, message="paid and lapsed")
    await publish.publish(ExpirationComplete(order_id=paid))  # too late: it is paid for
    assert await counted(buyer, ticket["id"]) == 2
    assert (await order(client, buyer, ticket["id"], 4)).status_code == 201
    assert (await order(client, buyer, ticket["id"])).json() == at_most(6)


async def test_a_lowered_limit_applies_to_new_orders_only(
    client: httpx.AsyncClient, buyer: SignedInUser, list_ticket: ListTicket, publish: Publisher
) -> None:
    ticket = await list_ticket(quantity=20, per_buyer_limit=5)
    held = [(await order(client, buyer, ticket["id"], 2)).json()["id"] for _ in range(2)]

    await publish.publish(edit(ticket, 1, 2))
    await applied(client, ticket["id"], 1)

    assert (await order(client, buyer, ticket["id"])).json() == at_most(2)
    for order_id in held:  # the orders placed before stay as they were
        shown = await client.get(f"{ORDERS}/{order_id}", headers=buyer.headers)
        assert shown.json()["status"] == "created"
    await client.delete(f"{ORDERS}/{held[0]}", headers=buyer.headers)
    assert (await order(client, buyer, ticket["id"])).json() == at_most(2)
    await client.delete(f"{ORDERS}/{held[1]}", headers=buyer.headers)
    assert (await order(client, buyer, ticket["id"], 2)).status_code == 201


async def test_a_limit_set_later_counts_the_seats_already_held(
    client: httpx.AsyncClient,
    buyer: SignedInUser,
    make_user: Callable[..., SignedInUser],
    list_ticket: ListTicket,
    publish: Publisher,
) -> None:
    ticket = await list_ticket(quantity=20)
    first = (await order(client, buyer, ticket["id"], 2)).json()["id"]
    assert (await order(client, buyer, ticket["id"], 1)).status_code == 201
    cancelled = (await order(client, buyer, ticket["id"], 3)).json()["id"]
    await client.delete(f"{ORDERS}/{cancelled}", headers=buyer.headers)
    await client.delete(f"{ORDERS}/{first}", headers=buyer.headers)  # before any count

    await publish.publish(edit(ticket, 1, 3))
    await applied(client, ticket["id"], 1)

    assert (await order(client, buyer, ticket["id"], 3)).json() == at_most(3)
    assert (await order(client, buyer, ticket["id"], 2)).status_code == 201
    assert await counted(buyer, ticket["id"]) == 3  # the 1 held before, and the 2
    assert (await order(client, make_user(), ticket["id"], 3)).status_code == 201


async def test_a_limit_lifted_and_set_again_counts_what_was_bought_meanwhile(
    client: httpx.AsyncClient, buyer: SignedInUser, list_ticket: ListTicket, publish: Publisher
) -> None:
    ticket = await list_ticket(quantity=20, per_buyer_limit=3)
    assert (await order(client, buyer, ticket["id"], 1)).status_code == 201

    await publish.publish(edit(ticket, 1, None))
    await applied(client, ticket["id"], 1)
    assert (await order(client, buyer, ticket["id"], 4)).status_code == 201
    await publish.publish(edit(ticket, 2, 6))
    await applied(client, ticket["id"], 2)

    assert (await order(client, buyer, ticket["id"], 2)).json() == at_most(6)
    assert (await order(client, buyer, ticket["id"], 1)).status_code == 201
    assert await counted(buyer, ticket["id"]) == 6


@pytest.fixture
async def second_replica(client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """Another process of orders (`python -m orders`) on the same database and stream: its own
    lock per listing, so the two race each other as replicas do and only the database decides."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orders",
        env={**os.environ, "HOST": "127.0.0.1", "PORT": str(port)},
        stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:

            async def ready() -> bool:
                try:
                    return (await http.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_until(ready, timeout=30, message="second orders process ready")
            yield http
    finally:
        process.terminate()
        await process.wait()


async def test_one_accounts_orders_racing_across_replicas_stay_within_its_limit(
    client: httpx.AsyncClient,
    second_replica: httpx.AsyncClient,
    buyer: SignedInUser,
    list_ticket: ListTicket,
) -> None:
    for limit in (4, 7):
        ticket = await list_ticket(quantity=100, per_buyer_limit=limit)

        answers = await asyncio.gather(
            *(order((client, second_replica)[n % 2], buyer, ticket["id"]) for n in range(24))
        )

        statuses = [answer.status_code for answer in answers]
        assert (statuses.count(201), statuses.count(400)) == (limit, 24 - limit)
        assert await counted(buyer, ticket["id"]) == limit
