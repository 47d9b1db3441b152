"""The tickets service's data: its listings (owned, changed by compare-and-set) and its replica
of orders (fed by order events under the next-version rule)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession

from tickets.models import (
    FOR_SALE,
    UNDATED,
    OrderReplica,
    Ticket,
    starts_key,
)
from tickets.schemas import ListingQuery, ListingSort
from tixcommon.db import ApplyResult
from tixcommon.events import OrderCreated, OrderStatus

Session = AsyncClientSession | None


class TicketRepository:
    async def get(self, ticket_id: ObjectId, *, session: Session = None) -> Ticket | None:
        return await Ticket.get(ticket_id, session=session)

    async def listing_page(
        self, search: ListingQuery, *, after: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """Up to `limit` tickets for sale matching `search`, in its order, after the key
        `after`, as stored (the listing serialises them as they are)."""
        key, direction = SORT_KEYS[search.sort]
        bounds = _Bounds()
        bounds.above("starts_key", starts_key(datetime.now(UTC)))  # not started yet
        if search.min_price is not None:
            bounds.above("price_key", f"{search.min_price:010d}", inclusive=True)
        if search.max_price is not None:
            bounds.below("price_key", f"{search.max_price + 1:010d}")
        if search.starts_from is not None or search.starts_to is not None:
            bounds.below("starts_key", UNDATED)  # a date range leaves out the undated
            if search.starts_from is not None:
                bounds.above("starts_key", starts_key(search.starts_from), inclusive=True)
            if search.starts_to is not None:
                bounds.below("starts_key", starts_key(search.starts_to) + "~")  # any id after
        if after is not None:
            value: Any = ObjectId(after) if key == "_id" else after
            (bounds.above if direction == 1 else bounds.below)(key, value)
        query: dict[str, Any] = {**FOR_SALE, **bounds.query()}
        if search.words:
            query["terms"] = {"$all": search.words}
        cursor = Ticket.get_pymongo_collection().find(query, sort=[(key, direction)], limit=limit)
        documents: list[dict[str, Any]] = await cursor.to_list()
        return documents

    async def of_seller(self, seller_id: str) -> list[Ticket]:
        """Newest first, reserved and sold ones included."""
        return await Ticket.find(Ticket.user_id == seller_id).sort("-_id").to_list()

    async def add(self, ticket: Ticket, *, session: Session = None) -> None:
        await ticket.insert(session=session)

    # Each change below is the ticket's next version, written only if nobody changed it since
    # this copy was read (else VersionConflict).

    async def edit(
        self, ticket: Ticket, changes: dict[str, Any], *, session: Session = None
    ) -> Ticket:
        """`changes`: the seller's fields, `None` for an event field to clear."""
        edited = ticket.model_copy(update=changes)
        return await ticket.compare_and_set({**changes, **edited.listing_fields()}, session=session)

    async def reserve(self, ticket: Ticket, order_id: str, *, session: Session = None) -> Ticket:
        changes = {"order_id": order_id, "for_sale": False}
        return await ticket.compare_and_set(changes, session=session)

    async def release(self, ticket: Ticket, *, session: Session = None) -> Ticket:
        changes = {"order_id": None, "for_sale": True}
        return await ticket.compare_and_set(changes, session=session)

    async def mark_listings(self) -> int:
        """Give `for_sale` and the listing's keys to tickets stored before they existed (at
        start, before any request: idempotent, so replicas starting together agree). How many
        were marked."""
        tickets = Ticket.get_pymongo_collection()
        marked = 0
        for held, for_sale in (({"$eq": None}, True), ({"$ne": None}, False)):
            result = await tickets.update_many(
                {"for_sale": {"$exists": False}, "order_id": held},
                {"$set": {"for_sale": for_sale}},
            )
            marked += result.modified_count
        # And the listing's keys to tickets stored before pages and search existed.
        async for document in tickets.find({"price_key": {"$exists": False}}):
            ticket = Ticket.model_validate(document)
            await tickets.update_one({"_id": ticket.id}, {"$set": ticket.listing_fields()})
            marked += 1
        return marked


# What each sort orders by (a key that is a total order: the id is part of it), and which way.
SORT_KEYS: dict[ListingSort, tuple[str, int]] = {
    ListingSort.NEWEST: ("_id", -1),
    ListingSort.STARTS_AT: ("starts_key", 1),
    ListingSort.PRICE: ("price_key", 1),
    ListingSort.PRICE_DESCENDING: ("price_key", -1),
}


class _Bounds:
    """The tightest lower and upper bound asked of each field, as one query."""

    def __init__(self) -> None:
        self._low: dict[str, tuple[Any, bool]] = {}
        self._high: dict[str, tuple[Any, bool]] = {}

    def above(self, field: str, value: Any, *, inclusive: bool = False) -> None:
        current = self._low.get(field)
        if current is None or (value, not inclusive) > (current[0], not current[1]):
            self._low[field] = (value, inclusive)

    def below(self, field: str, value: Any, *, inclusive: bool = False) -> None:
        current = self._high.get(field)
        if current is None or (value, inclusive) < (current[0], current[1]):
            self._high[field] = (value, inclusive)

    def query(self) -> dict[str, dict[str, Any]]:
        query: dict[str, dict[str, Any]] = {}
        for field, (value, inclusive) in self._low.items():
            query.setdefault(field, {})["$gte" if inclusive else "$gt"] = value
        for field, (value, inclusive) in self._high.items():
            query.setdefault(field, {})["$lte" if inclusive else "$lt"] = value
        return query


class OrderReplicaRepository:
    async def get(self, order_id: ObjectId, *, session: Session = None) -> OrderReplica | None:
        return await OrderReplica.get(order_id, session=session)

    async def created(self, event: OrderCreated, *, session: Session = None) -> ApplyResult:
        return await OrderReplica.insert_replica(
            OrderReplica(
                id=ObjectId(event.id),
                ticket_id=event.ticket.id,
                status=event.status,
                version=event.version,
            ),
            session=session,
        )

    async def moved_to(
        self, order_id: str, version: int, status: OrderStatus, *, session: Session = None
    ) -> ApplyResult:
        return await OrderReplica.apply_version(
            ObjectId(order_id), version, {"status": status.value}, session=session
        )

    async def completed_among(self, order_ids: list[str]) -> set[str]:
        """Which of these orders are paid for, in one query."""
        if not order_ids:
            return set()
        cursor = OrderReplica.get_pymongo_collection().find(
            {
                "_id": {"$in": [ObjectId(order_id) for order_id in order_ids]},
                "status": OrderStatus.COMPLETE.value,
            },
            {"_id": 1},
        )
        return {str(order["_id"]) async for order in cursor}
