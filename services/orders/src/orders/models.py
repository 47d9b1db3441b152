from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from beanie import Document
from pymongo import IndexModel

from tixcommon.db import ReplicaDocument, VersionedDocument
from tixcommon.events import OrderStatus
from tixcommon.money import PricedInCents


class BuyerCounts(StrEnum):
    """Whether orders counts each account's seats of a ticket (`BUYER_SEATS`), and since when.
    Counting starts with the ticket's first `perBuyerLimit` and never stops, so that a limit
    lifted and set again still counts every seat held meanwhile."""

    NONE = "none"  # no limit was ever set: nothing is counted, no account has a count
    FROM_LISTING = "from_listing"  # since the ticket was listed: no count means no seats
    # Since a limit was first set, when orders may already have held seats: an account's count
    # starts from the seats its orders hold when it is first needed.
    SINCE_LIMIT = "since_limit"


class TicketReplica(ReplicaDocument, PricedInCents):
    """The tickets service's ticket, as its events describe it, and `free`: the seats this
    service may still sell, its own count (the quantity less the seats of its live and complete
    orders), taken and given back in the same transaction as the order that holds them."""

    title: str
    starts_at: datetime | None = None
    venue: str | None = None
    # Its seller, whose scanners alone may check its passes in. None on a replica stored before
    # passes until the ticket's next event.
    seller_id: str | None = None
    quantity: int = 1
    free: int = 0
    on_sale_at: datetime | None = None
    per_buyer_limit: int | None = None
    buyer_counts: BuyerCounts = BuyerCounts.NONE

    class Settings:
        name = "tickets"


class OrderedTicket(PricedInCents):
    """The ticket as it was when ordered: what the buyer agreed to pay."""

    id: str
    title: str


class Order(VersionedDocument):
    user_id: str
    # Where its passes are mailed: the buyer's address as the session that placed it said.
    buyer_email: str | None = None
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


class PassStatus(StrEnum):
    VALID = "valid"
    CHECKED_IN = "checked-in"


class Pass(Document):
    """One seat of a complete order: the signed code its QR code holds, and its check-in,
    changed by one conditional write from `valid` (so two scanners cannot both let it in)."""

    order_id: str
    ticket_id: str
    seat: int
    of: int  # the order's seats
    code: str
    status: PassStatus = PassStatus.VALID
    checked_in_at: datetime | None = None
    # The scanner's id for the scan that checked it in: the same scan sent again is answered
    # as it was the first time.
    check_in_nonce: str | None = None

    class Settings:
        name = "passes"
        indexes = [
            # One pass per seat of an order, however often its completion is handled.
            IndexModel([("order_id", 1), ("seat", 1)], name="seats_of_order", unique=True),
            # The door's counts: passes of a ticket, and how many of them are in.
            IndexModel([("ticket_id", 1), ("status", 1)], name="passes_of_ticket"),
        ]


# One account's seats of one ticket, over its live and complete orders, `{_id:
# "<buyer>:<ticket>", held}`: what a per-buyer limit is checked against, with one conditional
# write in the order's transaction, and given back in the cancel's (`BuyerSeatsRepository`).
# Kept only for tickets that count their buyers (`TicketReplica.buyer_counts`); a collection
# beside the orders, with no index but its `_id`.
BUYER_SEATS = "buyer_seats"
