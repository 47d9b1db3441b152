from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any

from bson import ObjectId
from pymongo import IndexModel

from tixcommon.db import ReplicaDocument, VersionedDocument
from tixcommon.events import OrderStatus
from tixcommon.money import PricedInCents

FOR_SALE_LISTING = "for_sale_listing"
# Milliseconds since 1970 in 15 digits hold every year to 9999; the undated sort after them all.
STARTS_WIDTH = 15
UNDATED = "9" * STARTS_WIDTH
FOR_SALE = {"for_sale": True}
_WORD = re.compile(r"\w+")


def starts_key(starts_at: datetime | None) -> str:
    """A start as the listing orders it: milliseconds since 1970, fixed width."""
    if starts_at is None:
        return UNDATED
    return f"{int(starts_at.timestamp() * 1000):0{STARTS_WIDTH}d}"


def search_terms(*texts: str | None) -> list[str]:
    """The words a ticket is found by: case-folded runs of letters and digits, each once."""
    words: dict[str, None] = {}
    for text in texts:
        for word in _WORD.findall((text or "").casefold()):
            words[word] = None
    return list(words)


class TicketStatus(StrEnum):
    """What a seller sees of a listing: for sale, held by a pending order, or paid for."""

    AVAILABLE = "available"
    RESERVED = "reserved"
    SOLD = "sold"


class Ticket(VersionedDocument, PricedInCents):
    """A listing of `quantity` identical seats, owned here. `held` counts the seats of the live
    and complete orders that took some (each order's `seats_taken` in its replica says whether
    it is counted); `for_sale` is whether any are left, stored so that the listing is answered
    from an index in the order it is shown. A one-seat ticket names its holder in `order_id`."""

    title: str
    user_id: str
    quantity: int = 1
    held: int = 0
    # The version at which the seller last lowered `quantity`: an order placed against an
    # earlier version was counted against more seats (see TicketService.take_seats).
    lowered_at: int | None = None
    order_id: str | None = None
    for_sale: bool = True
    starts_at: datetime | None = None
    venue: str | None = None
    description: str | None = None
    # A scheduled sale (orders refuses orders before it, and wants the waiting room's admission
    # after it) and the most seats one account may hold or have bought.
    on_sale_at: datetime | None = None
    per_buyer_limit: int | None = None
    # Kept by `listing_fields` on every change, for the listing's keyset pages and search.
    price_key: str = ""
    starts_key: str = ""
    terms: list[str] = []

    @property
    def available(self) -> int:
        return self.quantity - self.held

    def listing_fields(self) -> dict[str, Any]:
        assert self.id is not None
        return listing_fields(
            self.id, title=self.title, price_cents=self.price_cents, starts_at=self.starts_at,
            venue=self.venue, description=self.description,
        )  # fmt: skip

    class Settings:
        name = "tickets"
        indexes = [
            # The listing reads one interval of one of these at a time (see tickets.listing):
            # only the tickets for sale, by the sort's key, which folds the id in so that each
            # is a total order a page can start after.
            IndexModel([("_id", 1)], name=FOR_SALE_LISTING, partialFilterExpression=FOR_SALE),
            *(
                IndexModel([(key, 1)], name=f"for_sale_by_{key}", partialFilterExpression=FOR_SALE)
                for key in ("price_key", "starts_key")
            ),
            # A search: the tickets for sale with one word, by each key. Not partial: a
            # MongoDB-wire server narrows `{for_sale, terms, key range}` to the interval only
            # when all three are the index's.
            *(
                IndexModel([("for_sale", 1), ("terms", 1), (key, 1)], name=f"search_by_{key}")
                for key in ("_id", "price_key", "starts_key")
            ),
            IndexModel([("user_id", 1), ("_id", -1)], name="seller_listing"),
        ]


def listing_fields(
    ticket_id: ObjectId,
    *,
    title: str,
    price_cents: int,
    starts_at: datetime | None = None,
    venue: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """What the listing sorts and searches a ticket by, from what its seller said."""
    return {
        "price_key": f"{price_cents:010d}{ticket_id}",
        "starts_key": f"{starts_key(starts_at)}{ticket_id}",
        "terms": search_terms(title, venue, description),
    }


class OrderReplica(ReplicaDocument):
    """What tickets knows of an order: enough to tell a late cancel from an early one, and
    whether its seats are counted in its ticket's `held` (set and cleared in the same
    transaction as the count, so no order's seats are counted or released twice)."""

    ticket_id: str
    status: OrderStatus
    quantity: int = 1
    seats_taken: bool = False

    class Settings:
        name = "orders"
        indexes = [
            # A seller's page counts each listing's sold seats.
            IndexModel([("ticket_id", 1), ("status", 1)], name="orders_of_ticket"),
        ]
