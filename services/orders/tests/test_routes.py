from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from tixcommon.bus import EventBus
from tixcommon.bus.outbox import OUTBOX_COLLECTION
from tixtest import SignedInUser, metric, stream_messages, wait_for_event, wait_until

ORDERS = "/api/orders"
ListTicket = Callable[..., Awaitable[dict[str, Any]]]


async def test_placing_an_order_reserves_the_ticket_and_announces_it(
    client: httpx.AsyncClient, buyer: SignedInUser, list_ticket: ListTicket, bus: EventBus
) -> None:
    ticket = await list_ticket("Concert", 20)
    before = datetime.now(UTC)

    response = await client.post(ORDERS, json={"ticketId": ticket["id"]}, headers=buyer.headers)

    assert response.status_code == 201
    order = response.json()
    assert set(order) == {"id", "userId", "status", "expiresAt", "version", "quantity", "ticket"}
    assert (order["userId"], order["status"], order["version"]) == (buyer.id, "created", 0)
    assert order["quantity"] == 1
    assert order["ticket"] == {"id": ticket["id"], "title": "Concert", "price": 20}
    assert order["expiresAt"].endswith("Z")
    expires = datetime.fromisoformat(order["expiresAt"])
    assert before + timedelta(seconds=59) < expires < datetime.now(UTC) + timedelta(seconds=61)
    event = await wait_for_event(bus, "order.created", lambda e: e["id"] == order["id"])
    assert event == {
        "id": order["id"],
        "version": 0,
        "status": "created",
        "userId": buyer.id,
        "expiresAt": event["expiresAt"],
        "ticket": {"id": ticket["id"], "price": 20, "version": 0},
        "quantity": 1,
    }
    assert datetime.fromisoformat(event["expiresAt"]) == expires


async def test_place_checks_auth_before_validation(client: httpx.AsyncClient) -> None:
    for response in (
        await client.post(ORDERS, json={}),
        await client.post(ORDERS, content=b"{", headers={"Content-Type": "application/json"}),
    ):
        assert (response.status_code, response.json()) == (
            401,
            {"errors": [{"message": "Not authorized"}]},
        )


async def test_place_validates_ticket_id(client: httpx.AsyncClient, buyer: SignedInUser) -> None:
    missing = await client.post(ORDERS, json={}, headers=buyer.headers)
    malformed = await client.post(ORDERS, json={"ticketId": "abc"}, headers=buyer.headers)

    assert missing.json() == {"errors": [{"message": "ticketId is required", "field": "ticketId"}]}
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0]["field"] == "ticketId"


async def test_place_for_unknown_ticket_is_404(
    client: httpx.AsyncClient, buyer: SignedInUser, bus: EventBus
) -> None:
    response = await client.post(ORDERS, json={"ticketId": "f" * 24}, headers=buyer.headers)

    assert (response.status_code, response.json()) == (404, {"errors": [{"message": "Not Found"}]})
    assert await stream_messages(bus, "order.created") == []


async def test_second_order_for_a_reserved_ticket_is_refused(
    client: httpx.AsyncClient, list_ticket: ListTicket, make_user: Callable[..., SignedInUser]
) -> None:
    ticket = await list_ticket()
    conflicts = metric("tixvibe_reservation_conflicts_total")
    first = await client.post(ORDERS, json={"ticketId": ticket["id"]}, headers=make_user().headers)

    second = await client.post(ORDERS, json={"ticketId": ticket["id"]}, headers=make_user().headers)

    assert first.status_code == 201
    assert second.status_code == 400
    assert second.json()["errors"][0]["message"] == "Ticket is already reserved"
    assert metric("tixvibe_reservation_conflicts_total") == conflicts + 1


async def test_concurrent_buyers_race_for_one_ticket_exactly_one_wins(
    client: httpx.AsyncClient, list_ticket: ListTicket, make_user: Callable[..., SignedInUser]
) -> None:
    buyers = [make_user() for _ in range(100)]
    for _ in range(10):
        ticket = await list_ticket()

        responses = await asyncio.gather(
            *(
                client.post(ORDERS, json={"ticketId": ticket["id"]}, headers=buyer.headers)
                for buyer in buyers
            )
        )

        statuses = [response.status_code for response in responses]
        assert statuses.count(201) == 1
        assert statuses.count(400) == 99


async def test_list_shows_my_orders_oldest_first(
    client: httpx.AsyncClient,
    buyer: SignedInUser,
    list_ticket: ListTicket,
    make_user: Callable[..., SignedInUser],
) -> None:
    mine = []
    for title in ("first", "second"):
        ticket = await list_ticket(title)
        response = await client.post(ORDERS, json={"ticketId": ticket["id"]}, headers=buyer.headers)
        mine.append(response.json())
    someone_else = await list_ticket("theirs")
    await client.post(ORDERS, json={"ticketId": someone_else["id"]}, headers=make_user().headers)

    response = await client.get(ORDERS, headers=buyer.headers)

    assert response.status_code == 200
    assert response.json() == mine
    assert [order["ticket"]["title"] for order in response.json()] == ["first", "second"]
    assert (await client.get(ORDERS)).status_code == 401


async def test_show_order_checks_auth_id_existence_and_owner(
    client: httpx.AsyncClient,
    buyer: SignedInUser,
    list_ticket: ListTicket,
    make_user: Callable[..., SignedInUser],
) -> None:
    ticket = await list_ticket()
    order = (
        await client.post(ORDERS, json={"ticketId": ticket["id"]}, headers=buyer.headers)
    ).json()
    url = f"{ORDERS}/{order['id']}"

    assert (await client.get(url)).status_code == 401
    assert (await client.get(f"{ORDERS}/nope", headers=buyer.headers)).status_code == 400
    assert (await client.get(f"{ORDERS}/{'c' * 24}", headers=buyer.headers)).status_code == 404
    assert (await client.get(url, headers=make_user().headers)).status_code == 401
    mine = await client.get(url, headers=buyer.headers)
    assert (mine.status_code, mine.json()) == (200, order)


async def test_cancel_sets_cancelled_announces_it_and_frees_the_ticket(
    client: httpx.AsyncClient,
    buyer: SignedInUser,
    list_ticket: ListTicket,
    bus: EventBus,
    make_user: Callable[..., SignedInUser],
) -> None:
    ticket = await list_ticket()
    order = (
        await client.post(ORDERS, json={"ticketId": ticket["id"]}, headers=buyer.headers)
    ).json()
    by_buyers = metric("tixvibe_orders_cancelled_total", reason="buyer")

    response = await client.delete(f"{ORDERS}/{order['id']}", headers=buyer.headers)

    assert (response.status_code, response.content) == (204, b"")
    assert metric("tixvibe_orders_cancelled_total", reason="buyer") == by_buyers + 1
    shown = (await client.get(f"{ORDERS}/{order['id']}", headers=buyer.headers)).json()
    assert (shown["status"], shown["version"]) == ("cancelled", 1)
    event = await wait_for_event(bus, "order.cancelled", lambda e: e["id"] == order["id"])
    assert event == {"id": order["id"], "version": 1, "ticket": {"id": ticket["id"]}}
    again = await client.post(ORDERS, json={"ticketId": ticket["id"]}, headers=make_user().headers)
    assert again.status_code == 201


async def test_cancelling_twice_is_a_harmless_204(
    client: httpx.AsyncClient,
    buyer: SignedInUser,
    list_ticket: ListTicket,
    bus: EventBus,
    mongo: AsyncMongoClient[Any],
    database_name: str,
) -> None:
    ticket = await list_ticket()
    order = (
        await client.post(ORDERS, json={"ticketId": ticket["id"]}, headers=buyer.headers)
    ).json()
    await client.delete(f"{ORDERS}/{order['id']}", headers=buyer.headers)

    again = await client.delete(f"{ORDERS}/{order['id']}/", headers=buyer.headers)

    assert again.status_code == 204
    # The relay publishes after the commit: once the outbox is empty, every event the two
    # cancels caused is on the stream.
    outbox = mongo[database_name][OUTBOX_COLLECTION]

    async def drained() -> bool:
        return await outbox.count_documents({}) == 0

    await wait_until(drained, message="outbox drained")
    assert len(await stream_messages(bus, "order.cancelled")) == 1


async def test_cancel_checks_auth_existence_and_owner(
    client: httpx.AsyncClient,
    buyer: SignedInUser,
    list_ticket: ListTicket,
    make_user: Callable[..., SignedInUser],
) -> None:
    ticket = await list_ticket()
    order = (
        await client.post(ORDERS, json={"ticketId": ticket["id"]}, headers=buyer.headers)
    ).json()
    url = f"{ORDERS}/{order['id']}"

    assert (await client.delete(url)).status_code == 401
    assert (await client.delete(f"{ORDERS}/{'c' * 24}", headers=buyer.headers)).status_code == 404
    assert (await client.delete(f"{ORDERS}/x", headers=buyer.headers)).status_code == 400
    assert (await client.delete(url, headers=make_user().headers)).status_code == 401
    still = (await client.get(url, headers=buyer.headers)).json()
    assert still["status"] == "created"
