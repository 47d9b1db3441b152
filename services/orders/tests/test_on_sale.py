"""A scheduled sale: no order before `onSaleAt`, and after it only with the waiting room's
admission of the caller for that ticket, verified here with no call to the room."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from bson import ObjectId

from orders.models import BuyerCounts, TicketReplica
from tixcommon.admission import ADMISSION_HEADER, AdmissionCodec
from tixcommon.bus import EventBus, Publisher
from tixcommon.events import TicketUpdated
from tixtest import SignedInUser, stream_messages, wait_until

ORDERS = "/api/orders"
ListTicket = Callable[..., Awaitable[dict[str, Any]]]
Admit = Callable[..., dict[str, str]]
NOT_ADMITTED = {"errors": [{"message": "Join the waiting room first"}]}


def from_now(**delta: float) -> datetime:
    return datetime.now(UTC) + timedelta(**delta)


async def replica(ticket_id: str) -> TicketReplica:
    found = await TicketReplica.get(ObjectId(ticket_id))
    assert found is not None
    return found


async def test_the_replica_keeps_the_on_sale_and_the_limit_as_announced(
    client: httpx.AsyncClient, list_ticket: ListTicket, publish: Publisher
) -> None:
    on_sale = from_now(days=1).replace(microsecond=123_000)
    ticket = await list_ticket(quantity=50, on_sale_at=on_sale, per_buyer_limit=4)
    kept = await replica(ticket["id"])
    assert (kept.on_sale_at, kept.per_buyer_limit) == (on_sale, 4)
    assert kept.buyer_counts is BuyerCounts.FROM_LISTING

    lifted = TicketUpdated(
        id=ticket["id"], version=1, title="Concert", price=20, user_id=ticket["userId"],
        quantity=50,
    )  # fmt: skip
    await publish.publish(lifted)

    async def cleared() -> bool:
        return (await replica(ticket["id"])).version == 1

    await wait_until(cleared, message="update applied")
    kept = await replica(ticket["id"])
    assert (kept.on_sale_at, kept.per_buyer_limit) == (None, None)
    # Lifted, the limit still counts buyers: set again, it holds over every seat held.
    assert kept.buyer_counts is BuyerCounts.FROM_LISTING


async def test_before_the_sale_opens_no_order_is_taken_even_admitted(
    client: httpx.AsyncClient,
    buyer: SignedInUser,
    list_ticket: ListTicket,
    admit: Admit,
    bus: EventBus,
) -> None:
    ticket = await list_ticket(quantity=10, on_sale_at=from_now(minutes=5))

    for headers in ({}, admit(buyer.id, ticket["id"])):
        response = await client.post(
            ORDERS, json={"ticketId": ticket["id"]}, headers={**buyer.headers, **headers}
        )
        assert (response.status_code, response.json()) == (
            400,
            {"errors": [{"message": "Sales have not started", "field": "ticketId"}]},
        )
    assert (await replica(ticket["id"])).free == 10
    assert await stream_messages(bus, "order.created") == []


async def test_once_open_an_admitted_buyer_orders(
    client: httpx.AsyncClient,
    buyer: SignedInUser,
    list_ticket: ListTicket,
    admit: Admit,
) -> None:
    ticket = await list_ticket(quantity=10, on_sale_at=from_now(seconds=-1))

    response = await client.post(
        ORDERS,
        json={"ticketId": ticket["id"], "quantity": 2},
        headers={**buyer.headers, **admit(buyer.id, ticket["id"])},
    )

    assert response.status_code == 201
    assert response.json()["quantity"] == 2
    assert (await replica(ticket["id"])).free == 8


def _forged(user_id: str, ticket_id: str) -> str:
    return AdmissionCodec("another key, not the platform's").issue(
        user_id, ticket_id, int(time.time()) + 600
    )


def _extended(codec: AdmissionCodec, user_id: str, ticket_id: str) -> str:
    """An expired admission whose claims were edited to last longer, its MAC kept."""
    expired = codec.issue(user_id, ticket_id, int(time.time()) - 1)
    longer = codec.issue(user_id, ticket_id, int(time.time()) + 600)
    return f"{longer.split('.')[0]}.{expired.split('.')[1]}"


# Each a way of not being admitted: (the header's value or None, for the buyer and ticket).
REFUSED: dict[str, Callable[[AdmissionCodec, str, str], str | None]] = {
    "missing": lambda codec, user, ticket: None,
    "expired": lambda codec, user, ticket: codec.issue(user, ticket, int(time.time()) - 1),
    "another account's": lambda codec, user, ticket: codec.issue(
        "a" * 24, ticket, int(time.time()) + 600
    ),
    "another ticket's": lambda codec, user, ticket: codec.issue(
        user, str(ObjectId()), int(time.time()) + 600
    ),
    "forged": lambda codec, user, ticket: _forged(user, ticket),
    "extended": lambda codec, user, ticket: _extended(codec, user, ticket),
    "garbage": lambda codec, user, ticket: "not-an-admission",
    "empty": lambda codec, user, ticket: "",
}


@pytest.mark.parametrize("way", list(REFUSED))
async def test_an_order_without_a_valid_admission_of_its_own_is_refused(
    client: httpx.AsyncClient,
    buyer: SignedInUser,
    list_ticket: ListTicket,
    jwt_key: str,
    bus: EventBus,
    way: str,
) -> None:
    ticket = await list_ticket(quantity=10, on_sale_at=from_now(seconds=-1), per_buyer_limit=4)
    admission = REFUSED[way](AdmissionCodec(jwt_key), buyer.id, ticket["id"])
    headers = {} if admission is None else {ADMISSION_HEADER: admission}

    response = await client.post(
        ORDERS, json={"ticketId": ticket["id"]}, headers={**buyer.headers, **headers}
    )

    assert (response.status_code, response.json()) == (403, NOT_ADMITTED)
    assert (await replica(ticket["id"])).free == 10
    assert await stream_messages(bus, "order.created") == []


async def test_a_ticket_without_an_on_sale_needs_no_admission(
    client: httpx.AsyncClient, buyer: SignedInUser, list_ticket: ListTicket
) -> None:
    ticket = await list_ticket(quantity=3, per_buyer_limit=2)

    plain = await client.post(ORDERS, json={"ticketId": ticket["id"]}, headers=buyer.headers)
    with_garbage = await client.post(
        ORDERS,
        json={"ticketId": ticket["id"]},
        headers={**buyer.headers, ADMISSION_HEADER: "whatever"},
    )

    assert (plain.status_code, with_garbage.status_code) == (201, 201)


async def test_refusals_come_in_order_unknown_then_not_started_then_not_admitted_then_limit(
    client: httpx.AsyncClient, buyer: SignedInUser, list_ticket: ListTicket, admit: Admit
) -> None:
    def order(ticket_id: str, quantity: int, headers: dict[str, str]) -> Awaitable[httpx.Response]:
        return client.post(
            ORDERS,
            json={"ticketId": ticket_id, "quantity": quantity},
            headers={**buyer.headers, **headers},
        )

    unknown = await order(str(ObjectId()), 9, {})
    upcoming = await list_ticket(quantity=1, on_sale_at=from_now(minutes=5), per_buyer_limit=2)
    not_started = await order(upcoming["id"], 9, {})
    opened = await list_ticket(quantity=1, on_sale_at=from_now(seconds=-1), per_buyer_limit=2)
    not_admitted = await order(opened["id"], 9, {})
    over_limit = await order(opened["id"], 3, admit(buyer.id, opened["id"]))
    no_seats = await order(opened["id"], 2, admit(buyer.id, opened["id"]))

    assert unknown.status_code == 404
    assert not_started.json()["errors"][0]["message"] == "Sales have not started"
    assert not_admitted.status_code == 403
    assert over_limit.json()["errors"] == [
        {"message": "At most 2 seats per buyer", "field": "quantity"}
    ]
    assert no_seats.json()["errors"] == [
        {"message": "Ticket is already reserved", "field": "ticketId"}
    ]
