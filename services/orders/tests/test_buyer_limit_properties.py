"""Property: whatever one account's orders, cancels, expiries and payments do to a listing with a
per-buyer limit, racing in any mix (two replicas placing orders, each with its own lock per
listing), the account never holds more seats than the limit, and its count always equals the
seats its live and complete orders hold: from the listing, or from a limit set once it already
held some."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from bson import ObjectId
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st

from orders.app import create_app
from orders.models import BUYER_SEATS, Order
from orders.service import OrderService
from orders.settings import OrdersSettings
from orders.wiring import Wiring
from tixcommon.auth import UserClaims
from tixcommon.errors import BadRequest
from tixcommon.events import ExpirationComplete, PaymentCreated, TicketCreated, TicketUpdated
from tixcommon.locks import KeyedLocks
from tixcommon.settings import load_settings
from tixtest import SignedInUser, serve_app
from tixtest.histories import REAL_SERVERS

HOLDING = ("created", "awaiting:payment", "complete")

# What one account does next, all of a batch at once. An order names its seats and whether it
# goes through HTTP (one replica) or straight to a second replica's service; the others name an
# earlier order by index (modulo how many were placed; nothing when none was).
actions = st.one_of(
    st.tuples(st.just("order"), st.integers(1, 4), st.booleans()),
    st.tuples(st.sampled_from(["cancel", "expire", "pay"]), st.integers(0, 20), st.just(False)),
)
batches = st.lists(st.lists(actions, min_size=1, max_size=5), min_size=1, max_size=8)


@pytest.fixture
async def orders(
    service_env: dict[str, str], mail_env: dict[str, str]
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(load_settings(OrdersSettings))
    async with serve_app(app) as http:
        yield app, http


async def seats_held(buyer_id: str, ticket_id: str) -> int:
    placed = await Order.find({"user_id": buyer_id, "ticket.id": ticket_id}).to_list()
    return sum(order.quantity for order in placed if order.status.value in HOLDING)


async def counted(buyer_id: str, ticket_id: str) -> int | None:
    counts = Order.get_pymongo_collection().database[BUYER_SEATS]
    count = await counts.find_one({"_id": f"{buyer_id}:{ticket_id}"})
    return None if count is None else int(count["held"])


@settings(REAL_SERVERS, max_examples=20)
@given(
    quantity=st.integers(4, 30),
    limit=st.integers(1, 6),
    held_before=st.none() | st.lists(st.integers(1, 3), max_size=3),
    script=batches,
)
async def test_one_account_never_holds_past_its_limit_and_its_count_is_what_it_holds(
    orders: tuple[FastAPI, httpx.AsyncClient],
    make_user: Callable[..., SignedInUser],
    quantity: int,
    limit: int,
    held_before: list[int] | None,
    script: list[list[tuple[str, int, bool]]],
) -> None:
    app, http = orders
    wiring: Wiring = app.state.wiring
    # Another replica: the same database, its own lock per listing.
    other: OrderService = dataclasses.replace(wiring.orders, placing=KeyedLocks())
    buyer = make_user()
    claims = UserClaims(id=buyer.id, email=buyer.email, iat=0, exp=2**40)
    ticket_id, seller = str(ObjectId()), str(ObjectId())
    # `held_before`: orders placed while the listing had no limit, then the limit is set.
    listed = TicketCreated(
        id=ticket_id, version=0, title="Gig", price=30, user_id=seller, quantity=quantity,
        available=quantity, per_buyer_limit=limit if held_before is None else None,
    )  # fmt: skip
    await wiring.replica.ticket_created(listed)
    placed: list[str] = []
    # As much as the limit to come allows: a limit set lower than what is held applies to new
    # orders only, so the account may hold more, until some lapse.
    for seats in held_before or []:
        if await seats_held(buyer.id, ticket_id) + seats <= limit:
            answer = await http.post(
                "/api/orders",
                json={"ticketId": ticket_id, "quantity": seats},
                headers=buyer.headers,
            )
            assert answer.status_code == 201, answer.text
            placed.append(answer.json()["id"])
    if held_before is not None:
        limited = TicketUpdated(**{**dict(listed), "version": 1, "per_buyer_limit": limit})
        await wiring.replica.ticket_updated(limited)

    def act(action: str, argument: int, elsewhere: bool) -> Awaitable[object]:
        if action == "order":
            if elsewhere:
                return _placed_elsewhere(other, claims, ticket_id, argument)
            return http.post(
                "/api/orders",
                json={"ticketId": ticket_id, "quantity": argument},
                headers=buyer.headers,
            )
        order_id = placed[argument % len(placed)]
        if action == "cancel":
            return http.delete(f"/api/orders/{order_id}", headers=buyer.headers)
        if action == "expire":
            return wiring.orders.expire(ExpirationComplete(order_id=order_id))
        payment = PaymentCreated(id=str(ObjectId()), order_id=order_id, stripe_id="ch_test")
        return wiring.orders.complete(payment)

    for batch in script:
        runnable = [step for step in batch if step[0] == "order" or placed]
        outcomes = await asyncio.gather(*(act(*step) for step in runnable))
        for outcome in outcomes:
            if isinstance(outcome, httpx.Response):
                assert outcome.status_code in (201, 204, 400), outcome.text
                if outcome.status_code == 201:
                    placed.append(outcome.json()["id"])
            elif isinstance(outcome, Order):
                placed.append(str(outcome.id))
        held = await seats_held(buyer.id, ticket_id)
        count = await counted(buyer.id, ticket_id)
        assert held <= limit
        if count is not None or held_before is None:
            assert (count or 0) == held


async def _placed_elsewhere(
    service: OrderService, buyer: UserClaims, ticket_id: str, seats: int
) -> Order | None:
    """An order through the other replica: the order, or None when refused (as a 400)."""
    try:
        return await service.place(buyer, ObjectId(ticket_id), seats)
    except BadRequest:
        return None
