"""Everything that changes a ticket, each change stored with the event that announces it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bson import ObjectId

from tickets.models import OrderReplica, Ticket, TicketStatus
from tickets.schemas import TicketIn
from tixcommon.auth import UserClaims
from tixcommon.bus import Outbox, Outcome, Transaction
from tixcommon.db import retry_on_conflict
from tixcommon.errors import BadRequest, NotAuthorized, NotFound
from tixcommon.events import (
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    OrderStatus,
    TicketCreated,
    TicketUpdated,
)


def ticket_updated(ticket: Ticket) -> TicketUpdated:
    return TicketUpdated(
        id=str(ticket.id),
        version=ticket.version,
        title=ticket.title,
        price=ticket.price,
        user_id=ticket.user_id,
        order_id=ticket.order_id,
    )


@dataclass
class TicketService:
    outbox: Outbox

    async def list_for_sale(self) -> list[dict[str, Any]]:
        """The tickets for sale, oldest first, as stored (the listing serialises them as is)."""
        cursor = Ticket.get_pymongo_collection().find({"order_id": None}, sort=[("_id", 1)])
        documents: list[dict[str, Any]] = await cursor.to_list()
        return documents

    async def get(self, ticket_id: ObjectId) -> Ticket:
        ticket = await Ticket.get(ticket_id)
        if ticket is None:
            raise NotFound()
        return ticket

    async def list_by_seller(self, seller: UserClaims) -> list[Ticket]:
        """The seller's listings, newest first, reserved and sold ones included."""
        return await Ticket.find(Ticket.user_id == seller.id).sort("-_id").to_list()

    async def statuses(self, tickets: list[Ticket]) -> dict[str, TicketStatus]:
        """Each ticket's seller-facing status, with one query for all the reserving orders."""
        order_ids = [ObjectId(ticket.order_id) for ticket in tickets if ticket.order_id]
        completed: set[str] = set()
        if order_ids:
            cursor = OrderReplica.get_pymongo_collection().find(
                {"_id": {"$in": order_ids}, "status": OrderStatus.COMPLETE.value}, {"_id": 1}
            )
            completed = {str(order["_id"]) async for order in cursor}
        return {
            str(ticket.id): (
                TicketStatus.AVAILABLE
                if ticket.order_id is None
                else TicketStatus.SOLD
                if ticket.order_id in completed
                else TicketStatus.RESERVED
            )
            for ticket in tickets
        }

    async def create(self, seller: UserClaims, data: TicketIn) -> Ticket:
        ticket = Ticket(title=data.title, price=data.price, user_id=seller.id)

        async def work(tx: Transaction) -> None:
            await ticket.insert(session=tx.session)
            tx.publish(
                TicketCreated(
                    id=str(ticket.id),
                    version=ticket.version,
                    title=ticket.title,
                    price=ticket.price,
                    user_id=ticket.user_id,
                )
            )

        await self.outbox.run(work)
        return ticket

    async def update(self, ticket_id: ObjectId, editor: UserClaims, data: TicketIn) -> Ticket:
        async def attempt() -> Ticket:
            ticket = await self.get(ticket_id)
            # The contract's order: a reserved ticket is refused before ownership is checked.
            if ticket.order_id is not None:
                raise BadRequest("Cannot edit a reserved ticket")
            if ticket.user_id != editor.id:
                raise NotAuthorized()

            async def work(tx: Transaction) -> Ticket:
                updated = await ticket.compare_and_set(
                    {"title": data.title, "price": data.price}, session=tx.session
                )
                tx.publish(ticket_updated(updated))
                return updated

            return await self.outbox.run(work)

        # A reservation may land between our read and our write: then decide again.
        return await retry_on_conflict(attempt)

    async def reserve_for_order(self, event: OrderCreated) -> Outcome:
        async def work(tx: Transaction) -> Outcome:
            await OrderReplica.insert_replica(
                {
                    "_id": ObjectId(event.id),
                    "ticket_id": event.ticket.id,
                    "status": event.status.value,
                    "version": event.version,
                },
                session=tx.session,
            )
            order = await OrderReplica.get(ObjectId(event.id), session=tx.session)
            if order is None or order.status is OrderStatus.CANCELLED:
                return Outcome.ACK  # cancelled before its creation reached us: nothing to hold
            ticket = await Ticket.get(ObjectId(event.ticket.id), session=tx.session)
            if ticket is None:
                raise LookupError(f"order {event.id} reserves unknown ticket {event.ticket.id}")
            if ticket.order_id == event.id:
                return Outcome.ACK  # already reserved by this order: a redelivery
            if ticket.order_id is not None:
                # Orders lets one live order hold a ticket, so the holder's cancel is on its way.
                return Outcome.RETRY_LATER
            tx.publish(
                ticket_updated(
                    await ticket.compare_and_set({"order_id": event.id}, session=tx.session)
                )
            )
            return Outcome.ACK

        return await self.outbox.run(work)

    async def release_for_cancelled_order(self, event: OrderCancelled) -> Outcome:
        async def work(tx: Transaction) -> Outcome:
            order = await OrderReplica.get(ObjectId(event.id), session=tx.session)
            if order is None:
                return Outcome.RETRY_LATER  # its order.created has not reached us yet
            if order.status is OrderStatus.CANCELLED:
                return Outcome.ACK  # applied before, release included (same transaction)
            await OrderReplica.get_pymongo_collection().update_one(
                {"_id": order.id},
                {"$set": {"status": OrderStatus.CANCELLED.value, "version": event.version}},
                session=tx.session,
            )
            ticket = await Ticket.get(ObjectId(event.ticket.id), session=tx.session)
            # A stale cancel never frees a newer reservation.
            if ticket is not None and ticket.order_id == event.id:
                tx.publish(
                    ticket_updated(
                        await ticket.compare_and_set({"order_id": None}, session=tx.session)
                    )
                )
            return Outcome.ACK

        return await self.outbox.run(work)

    async def mark_order_completed(self, event: OrderCompleted) -> Outcome:
        """A paid order keeps its ticket for good: the listing shows as sold. The ticket itself
        does not change (no new version), only what we know of its order."""
        order = await OrderReplica.get(ObjectId(event.id))
        if order is None:
            return Outcome.RETRY_LATER  # its order.created has not reached us yet
        if order.status in (OrderStatus.COMPLETE, OrderStatus.CANCELLED):
            return Outcome.ACK  # applied before; a cancelled order is never completed
        await OrderReplica.get_pymongo_collection().update_one(
            {"_id": order.id, "status": {"$ne": OrderStatus.CANCELLED.value}},
            {"$set": {"status": OrderStatus.COMPLETE.value, "version": event.version}},
        )
        return Outcome.ACK
