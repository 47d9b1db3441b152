from __future__ import annotations

from datetime import datetime

from pymongo import IndexModel

from tixcommon.db import ReplicaDocument, VersionedDocument
from tixcommon.events import OrderStatus
from tixcommon.money import PricedInCents


class TicketReplica(ReplicaDocument, PricedInCents):
    """The tickets service's ticket, as its events describe it."""

    title: str
    starts_at: datetime | None = None

    class Settings:
        name = "tickets"


class OrderedTicket(PricedInCents):
    """The ticket as it was when ordered: what the buyer agreed to pay."""

    id: str
    title: str


class Order(VersionedDocument):
    user_id: str
    status: OrderStatus
    expires_at: datetime
    ticket: OrderedTicket
    # An order holds its ticket while it may still be paid, and for good once it is: true
    # until the order is cancelled.
    holds_ticket: bool = True

    class Settings:
        name = "orders"
        indexes = [
            # The reservation itself: at most one order holds a ticket, whatever races.
            IndexModel(
                [("ticket.id", 1)],
                unique=True,
                partialFilterExpression={"holds_ticket": True},
                name="one_holder_per_ticket",
            ),
            IndexModel([("user_id", 1), ("_id", 1)], name="orders_of_user"),
        ]
