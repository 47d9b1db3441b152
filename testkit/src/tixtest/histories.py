"""Hypothesis strategies: what an owner service may publish about one entity, in its order.

Listeners are tested against these histories delivered in any order (see redelivery.py): a
replica must end equal to the last state its owner announced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bson import ObjectId
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tixcommon.events import (
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    OrderStatus,
    TicketCreated,
    TicketUpdated,
)
from tixcommon.events.base import Event
from tixcommon.events.orders import TicketPrice, TicketRef

# Property tests run against real servers: no per-example deadline, a bounded number of examples
# (the whole suite keeps to its time budget), no example database left in the tree, and the
# app fixtures they share across examples are function-scoped on purpose (every example uses
# fresh ids). Applied per test (`@REAL_SERVERS`), never as a global profile.
REAL_SERVERS = settings(
    deadline=None,
    max_examples=30,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

titles = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=40
)
prices = st.integers(min_value=1, max_value=100_000).map(lambda cents: cents / 100)


def new_id() -> str:
    return str(ObjectId())


@st.composite
def ticket_histories(draw: st.DrawFn, ticket_id: str | None = None) -> list[Event]:
    """A ticket's life as tickets announces it: created (v0), then edits and reservations."""
    ticket = ticket_id or new_id()
    seller = new_id()
    events: list[Event] = [
        TicketCreated(id=ticket, version=0, title=draw(titles), price=draw(prices), user_id=seller)
    ]
    for version in range(1, draw(st.integers(0, 6)) + 1):
        events.append(
            TicketUpdated(
                id=ticket,
                version=version,
                title=draw(titles),
                price=draw(prices),
                user_id=seller,
                order_id=draw(st.none() | st.just(new_id())),
            )
        )
    return events


@dataclass(frozen=True)
class OrderLife:
    """One order's events, and how it ended (None: still awaiting payment)."""

    events: list[Event]
    ending: OrderStatus | None

    @property
    def order_id(self) -> str:
        return str(self.events[0].id)  # type: ignore[attr-defined]

    @property
    def final_version(self) -> int:
        return int(self.events[-1].version)  # type: ignore[attr-defined]


@st.composite
def order_lives(
    draw: st.DrawFn,
    ticket_id: str,
    endings: tuple[OrderStatus | None, ...] = (OrderStatus.CANCELLED, OrderStatus.COMPLETE, None),
) -> OrderLife:
    order_id = new_id()
    created = OrderCreated(
        id=order_id,
        version=0,
        status=OrderStatus.CREATED,
        user_id=new_id(),
        expires_at=datetime.now(UTC) + timedelta(minutes=15),
        ticket=TicketPrice(id=ticket_id, price=draw(prices)),
    )
    ending = draw(st.sampled_from(endings))
    events: list[Event] = [created]
    if ending is OrderStatus.CANCELLED:
        events.append(OrderCancelled(id=order_id, version=1, ticket=TicketRef(id=ticket_id)))
    elif ending is OrderStatus.COMPLETE:
        events.append(OrderCompleted(id=order_id, version=1, ticket=TicketRef(id=ticket_id)))
    return OrderLife(events, ending)


@st.composite
def ticket_order_histories(draw: st.DrawFn, ticket_id: str) -> list[OrderLife]:
    """The orders one ticket sees, as orders allows them: one live order at a time, so every
    order but the last was cancelled; the last may be cancelled, complete or still open."""
    cancelled = order_lives(ticket_id, endings=(OrderStatus.CANCELLED,))
    lives = [draw(cancelled) for _ in range(draw(st.integers(0, 3)))]
    lives.append(draw(order_lives(ticket_id)))
    return lives


def redeliveries(events: list[Event], *, max_size: int = 8) -> st.SearchStrategy[list[Event]]:
    """Extra copies of some of the events, as JetStream redelivers a message it was not sure
    had been acknowledged."""
    return st.lists(st.sampled_from(events), max_size=max_size)
