"""Everything that changes a ticket, each change stored with the event that announces it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bson import ObjectId

from tickets.models import Ticket, TicketStatus
from tickets.repository import OrderReplicaRepository, TicketRepository
from tickets.schemas import ListingQuery, TicketIn
from tixcommon.auth import UserClaims
from tixcommon.bus import Outbox, Outcome, Transaction
from tixcommon.db import ApplyResult, retry_on_conflict
from tixcommon.errors import BadRequest, NotAuthorized, NotFound
from tixcommon.events import (
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    OrderStatus,
    TicketCreated,
    TicketUpdated,
)
from tixcommon.money import to_dollars
from tixcommon.pages import CursorCodec


def ticket_created(ticket: Ticket) -> TicketCreated:
    return TicketCreated(
        id=str(ticket.id),
        version=ticket.version,
        title=ticket.title,
        price=to_dollars(ticket.price_cents),
        user_id=ticket.user_id,
        starts_at=ticket.starts_at,
    )


def ticket_updated(ticket: Ticket) -> TicketUpdated:
    """The ticket's new state: what `ticket.created` says of it, and which order holds it."""
    return TicketUpdated(**dict(ticket_created(ticket)), order_id=ticket.order_id)


@dataclass
class TicketService:
    outbox: Outbox
    tickets: TicketRepository
    orders: OrderReplicaRepository
    cursors: CursorCodec

    async def listing(self, query: ListingQuery) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the listing, and the cursor of the next (None on the last page)."""
        after = None if query.cursor is None else self.cursors.decode(query.cursor, query.sort)
        page, following = await self.tickets.listing_page(query, after)
        return page, None if following is None else self.cursors.encode(query.sort, following)

    async def get(self, ticket_id: ObjectId) -> Ticket:
        ticket = await self.tickets.get(ticket_id)
        if ticket is None:
            raise NotFound()
        return ticket

    async def list_by_seller(self, seller: UserClaims) -> list[Ticket]:
        """The seller's listings, newest first, reserved and sold ones included."""
        return await self.tickets.of_seller(seller.id)

    async def statuses(self, tickets: list[Ticket]) -> dict[str, TicketStatus]:
        """Each ticket's seller-facing status, with one query for all the reserving orders."""
        completed = await self.orders.completed_among(
            [ticket.order_id for ticket in tickets if ticket.order_id]
        )
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
        ticket = Ticket(
            id=ObjectId(),  # now: the listing's keys include it
            title=data.title,
            price_cents=data.price_cents,
            user_id=seller.id,
            **data.event_changes(),
        )
        ticket = ticket.model_copy(update=ticket.listing_fields())

        async def work(tx: Transaction) -> None:
            await self.tickets.add(ticket, session=tx.session)
            tx.publish(ticket_created(ticket))

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
                changes = {
                    "title": data.title,
                    "price_cents": data.price_cents,
                    **data.event_changes(),
                }
                updated = await self.tickets.edit(ticket, changes, session=tx.session)
                tx.publish(ticket_updated(updated))
                return updated

            return await self.outbox.run(work)

        # A reservation may land between our read and our write: then decide again.
        return await retry_on_conflict(attempt)

    async def reserve_for_order(self, event: OrderCreated) -> Outcome:
        async def work(tx: Transaction) -> Outcome:
            await self.orders.created(event, session=tx.session)
            order = await self.orders.get(ObjectId(event.id), session=tx.session)
            if order is None or order.status is OrderStatus.CANCELLED:
                return Outcome.ACK  # cancelled before its creation reached us: nothing to hold
            ticket = await self.tickets.get(ObjectId(event.ticket.id), session=tx.session)
            if ticket is None:
                raise LookupError(f"order {event.id} reserves unknown ticket {event.ticket.id}")
            if ticket.order_id == event.id:
                return Outcome.ACK  # already reserved by this order: a redelivery
            if ticket.order_id is not None:
                # Orders lets one live order hold a ticket, so the holder's cancel is on its way.
                return Outcome.RETRY_LATER
            reserved = await self.tickets.reserve(ticket, event.id, session=tx.session)
            tx.publish(ticket_updated(reserved))
            return Outcome.ACK

        return await self.outbox.run(work)

    async def release_for_cancelled_order(self, event: OrderCancelled) -> Outcome:
        async def work(tx: Transaction) -> Outcome:
            applied = await self.orders.moved_to(
                event.id, event.version, OrderStatus.CANCELLED, session=tx.session
            )
            if applied is ApplyResult.NOT_YET:
                return Outcome.RETRY_LATER  # its order.created has not reached us yet
            if applied is ApplyResult.ALREADY_APPLIED:
                return Outcome.ACK  # the release was made with it (same transaction)
            ticket = await self.tickets.get(ObjectId(event.ticket.id), session=tx.session)
            # A stale cancel never frees a newer reservation.
            if ticket is not None and ticket.order_id == event.id:
                released = await self.tickets.release(ticket, session=tx.session)
                tx.publish(ticket_updated(released))
            return Outcome.ACK

        return await self.outbox.run(work)

    async def mark_order_completed(self, event: OrderCompleted) -> Outcome:
        """A paid order keeps its ticket for good: the listing shows as sold. The ticket itself
        does not change (no new version), only what we know of its order."""
        applied = await self.orders.moved_to(event.id, event.version, OrderStatus.COMPLETE)
        return Outcome.of(applied)
