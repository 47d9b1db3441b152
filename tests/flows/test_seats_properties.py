"""Property: whatever buyers, cancels, expiries, payments, seller edits and redeliveries do to a
listing of several seats, in any interleaving, the seats held never exceed the quantity, and
once the events are handled the owner's `available` is the quantity less the seats of the live
and complete orders, and orders' replica agrees with the owner (tickets and orders on one real
JetStream, each with its own database)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from bson import ObjectId
from flows_support import TICKETS_AND_ORDERS_DURABLES, Platform
from hypothesis import given, settings
from hypothesis import strategies as st

from orders.models import TicketReplica
from tixcommon.bus import EventBus, Publisher
from tixcommon.events import ExpirationComplete, PaymentCreated
from tixtest import SignedInUser, consumers_idle, stream_messages, wait_until
from tixtest.histories import REAL_SERVERS

QUANTITY = 6
HOLDING = {"created", "awaiting:payment", "complete"}

# A step: what a buyer, the seller, the clock, Stripe or JetStream does next. Order steps name
# an earlier order by index (modulo how many were placed; nothing when none was).
steps = st.one_of(
    st.tuples(st.just("order"), st.integers(1, 4)),
    st.tuples(st.just("cancel"), st.integers(0, 9)),
    st.tuples(st.just("expire"), st.integers(0, 9)),
    st.tuples(st.just("pay"), st.integers(0, 9)),
    st.tuples(st.just("edit"), st.integers(1, 10)),
    st.tuples(st.just("replay"), st.just(0)),
)


async def owner_state(platform: Platform, ticket_id: str) -> dict[str, Any]:
    state: dict[str, Any] = (await platform.tickets.get(f"/api/tickets/{ticket_id}")).json()
    return state


async def seats_counted(platform: Platform, ticket_id: str) -> None:
    """What may never be false, even mid-flight: the owner holds no more seats than it lists,
    and orders never counts more seats free than are listed. (Orders' count may dip below
    zero for a moment when the seller lowers the quantity under seats orders sold but tickets
    had not heard of yet: orders then sells nothing until tickets keeps those orders and
    raises the quantity back, as docs/api.md says.)"""
    owner = await owner_state(platform, ticket_id)
    assert 0 <= owner["available"] <= owner["quantity"], owner
    replica = await TicketReplica.get(ObjectId(ticket_id))
    assert replica is not None
    assert replica.free <= replica.quantity, replica


async def replay(bus: EventBus, ticket_id: str) -> None:
    """Every event of the listing's orders again, under new ids (so JetStream cannot drop them
    as duplicates)."""
    for subject in ("order.created", "order.cancelled", "order.completed"):
        for message in await stream_messages(bus, subject):
            if ticket_id.encode() not in message.data:
                continue  # another example's
            await Publisher(bus).publish_raw(
                bus.contract_subject(message.subject), message.data, event_id=uuid.uuid4().hex
            )


@settings(REAL_SERVERS, max_examples=15)
@given(script=st.lists(steps, min_size=1, max_size=12))
async def test_seats_are_never_oversold_and_every_count_converges(
    platform: Platform,
    make_user: Callable[..., SignedInUser],
    bus: EventBus,
    script: list[tuple[str, int]],
) -> None:
    seller = make_user()
    listed = await platform.tickets.post(
        "/api/tickets", json={"title": "Hall", "price": 20, "quantity": QUANTITY},
        headers=seller.headers,
    )  # fmt: skip
    ticket_id = listed.json()["id"]
    await wait_until(partial(TicketReplica.get, ObjectId(ticket_id)), message="replicated")
    placed: list[tuple[SignedInUser, str]] = []
    publish = Publisher(bus)

    for action, argument in script:
        if action == "order":
            buyer = make_user()
            answer = await platform.orders.post(
                "/api/orders", json={"ticketId": ticket_id, "quantity": argument},
                headers=buyer.headers,
            )  # fmt: skip
            assert answer.status_code in (201, 400), answer.text
            if answer.status_code == 201:
                placed.append((buyer, answer.json()["id"]))
        elif action == "edit":
            body = {"title": "Hall", "price": 20, "quantity": argument}
            edit = await platform.tickets.put(
                f"/api/tickets/{ticket_id}", json=body, headers=seller.headers
            )
            assert edit.status_code in (200, 400), edit.text
            if edit.status_code == 400:  # only ever for going below the seats held
                assert "seats already held" in edit.text, edit.text
        elif action == "replay":
            await replay(bus, ticket_id)
        elif placed:
            buyer, order_id = placed[argument % len(placed)]
            if action == "cancel":
                answer = await platform.orders.delete(
                    f"/api/orders/{order_id}", headers=buyer.headers
                )
                assert answer.status_code in (204, 400), answer.text
            elif action == "expire":
                await publish.publish(ExpirationComplete(order_id=order_id))
            else:
                await publish.publish(
                    PaymentCreated(id=str(ObjectId()), order_id=order_id, stripe_id="ch_test")
                )
        await seats_counted(platform, ticket_id)

    await wait_until(
        lambda: consumers_idle(bus, *TICKETS_AND_ORDERS_DURABLES), timeout=30, message="settled"
    )
    holding = 0
    for buyer, order_id in placed:
        order = (await platform.orders.get(f"/api/orders/{order_id}", headers=buyer.headers)).json()
        holding += order["quantity"] if order["status"] in HOLDING else 0
    owner = await owner_state(platform, ticket_id)
    replica = await TicketReplica.get(ObjectId(ticket_id))
    assert replica is not None
    assert owner["available"] == owner["quantity"] - holding
    assert (replica.version, replica.quantity) == (owner["version"], owner["quantity"])
    assert replica.free == owner["available"]
