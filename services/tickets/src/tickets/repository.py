"""The tickets service's data: its listings (owned, changed by compare-and-set) and its replica
of orders (fed by order events under the next-version rule)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession

from tickets.models import FOR_SALE_LISTING, OrderReplica, Ticket
from tixcommon.db import ApplyResult
from tixcommon.events import OrderCreated, OrderStatus

Session = AsyncClientSession | None


class TicketRepository:
    async def get(self, ticket_id: ObjectId, *, session: Session = None) -> Ticket | None:
        return await Ticket.get(ticket_id, session=session)

    async def for_sale(self) -> list[dict[str, Any]]:
        """The unreserved listings whose event has not started, oldest first, as stored (the
        listing serialises them as they are, without a document model per ticket)."""
        not_started = {"$or": [{"starts_at": None}, {"starts_at": {"$gt": datetime.now(UTC)}}]}
        # Hinted: the index is the answer, in order; planning the query among the collection's
        # indexes on every call cost a third of it on the database we test on.
        cursor = Ticket.get_pymongo_collection().find(
            {"for_sale": True, **not_started}, sort=[("_id", 1)], hint=FOR_SALE_LISTING
        )
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
        return await ticket.compare_and_set(changes, session=session)

    async def reserve(self, ticket: Ticket, order_id: str, *, session: Session = None) -> Ticket:
        changes = {"order_id": order_id, "for_sale": False}
        return await ticket.compare_and_set(changes, session=session)

    async def release(self, ticket: Ticket, *, session: Session = None) -> Ticket:
        changes = {"order_id": None, "for_sale": True}
        return await ticket.compare_and_set(changes, session=session)

    async def mark_listings(self) -> int:
        """Give `for_sale` to tickets stored before it existed (at start, before any request:
        idempotent, so replicas starting together agree). How many were marked."""
        tickets = Ticket.get_pymongo_collection()
        marked = 0
        for held, for_sale in (({"$eq": None}, True), ({"$ne": None}, False)):
            result = await tickets.update_many(
                {"for_sale": {"$exists": False}, "order_id": held},
                {"$set": {"for_sale": for_sale}},
            )
            marked += result.modified_count
        return marked


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
