from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pymongo import IndexModel

from tixcommon.db import ReplicaDocument, VersionedDocument
from tixcommon.events import OrderStatus
from tixcommon.money import PricedInCents

FOR_SALE_LISTING = "for_sale_listing"


class TicketStatus(StrEnum):
    """What a seller sees of a listing: for sale, held by a pending order, or paid for."""

    AVAILABLE = "available"
    RESERVED = "reserved"
    SOLD = "sold"


class Ticket(VersionedDocument, PricedInCents):
    """A listing, owned here. `order_id` is set while an order reserves it; `for_sale` is its
    absence, stored so that the listing is answered from an index in the order it is shown."""

    title: str
    user_id: str
    order_id: str | None = None
    for_sale: bool = True
    starts_at: datetime | None = None
    venue: str | None = None
    description: str | None = None

    class Settings:
        name = "tickets"
        indexes = [
            # The listing: only the tickets for sale, already in listing order. A partial index
            # keyed by the sort key is one interval scanned in order (no in-memory sort, here
            # or on MongoDB); `order_id: null` matched missing fields too and was sorted after.
            IndexModel(
                [("_id", 1)], name=FOR_SALE_LISTING, partialFilterExpression={"for_sale": True}
            ),
            IndexModel([("user_id", 1), ("_id", -1)], name="seller_listing"),
        ]


class OrderReplica(ReplicaDocument):
    """What tickets knows of an order: enough to tell a late cancel from an early one."""

    ticket_id: str
    status: OrderStatus

    class Settings:
        name = "orders"
