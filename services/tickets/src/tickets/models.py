from __future__ import annotations

from enum import StrEnum

from pymongo import IndexModel

from tixcommon.db import ReplicaDocument, VersionedDocument
from tixcommon.events import OrderStatus
from tixcommon.money import PricedInCents


class TicketStatus(StrEnum):
    """What a seller sees of a listing: for sale, held by a pending order, or paid for."""

    AVAILABLE = "available"
    RESERVED = "reserved"
    SOLD = "sold"


class Ticket(VersionedDocument, PricedInCents):
    """A listing, owned here. `order_id` is set while an order reserves it."""

    title: str
    user_id: str
    order_id: str | None = None

    class Settings:
        name = "tickets"
        indexes = [
            IndexModel([("order_id", 1), ("_id", 1)], name="unreserved_listing"),
            IndexModel([("user_id", 1), ("_id", -1)], name="seller_listing"),
        ]


class OrderReplica(ReplicaDocument):
    """What tickets knows of an order: enough to tell a late cancel from an early one."""

    ticket_id: str
    status: OrderStatus

    class Settings:
        name = "orders"
