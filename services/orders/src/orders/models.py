from __future__ import annotations

from datetime import datetime

from pymongo import IndexModel

from tixcommon.db import ReplicaDocument, VersionedDocument
from tixcommon.events import OrderStatus
from tixcommon.money import PricedInCents


class TicketReplica(ReplicaDocument, PricedInCents):
    """The tickets service's ticket, as its events describe it, and `free`: the seats this
    service may still sell, its own count (the quantity less the seats of its live and complete
    orders), taken and given back in the same transaction as the order that holds them."""

    title: str
    starts_at: datetime | None = None
    quantity: int = 1
    free: int = 0

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
    quantity: int = 1
    # An order holds its seats while it may still be paid, and for good once it is: true
    # until the order is cancelled.
    holds_ticket: bool = True

    class Settings:
        name = "orders"
        indexes = [
            IndexModel([("ticket.id", 1), ("holds_ticket", 1)], name="holders_of_ticket"),
            IndexModel([("user_id", 1), ("_id", 1)], name="orders_of_user"),
        ]
