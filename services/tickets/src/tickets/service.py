"""Everything that changes a ticket, each change stored with the event that announces it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from bson import ObjectId

from tickets.models import Ticket
from tickets.page_cache import PageCache
from tickets.repository import OrderReplicaRepository, TicketRepository
from tickets.schemas import ON_SALE_AFTER_START, ListingQuery, TicketIn, listing_json
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

RESERVED = "Cannot edit a reserved ticket"
T = TypeVar("T")


def below_held(held: int) -> BadRequest:
    return BadRequest(
        f"Quantity cannot be lower than the {held} seats already held", field="quantity"
    )


def ticket_created(ticket: Ticket) -> TicketCreated:
    return TicketCreated(
        id=str(ticket.id),
        version=ticket.version,
        title=ticket.title,
        price=to_dollars(ticket.price_cents),
        user_id=ticket.user_id,
        starts_at=ticket.starts_at,
        venue=ticket.venue,
        quantity=ticket.quantity,
        available=ticket.available,
        on_sale_at=ticket.on_sale_at,
        per_buyer_limit=ticket.per_buyer_limit,
    )


def ticket_updated(ticket: Ticket) -> TicketUpdated:
    """The ticket's new state: what `ticket.created` says of it, and which order holds it."""
    return TicketUpdated(**dict(ticket_created(ticket)), order_id=ticket.order_id)


def check_on_sale(ticket: Ticket) -> None:
    """The sale opens before the event starts: checked on what the ticket would be, so an edit
    that moves either one is held to the other as stored."""
    if (
        ticket.on_sale_at is not None
        and ticket.starts_at is not None
        and ticket.on_sale_at >= ticket.starts_at
    ):
        raise BadRequest(ON_SALE_AFTER_START, field="onSaleAt")


def seat_changes(*, quantity: int, held: int, order_id: str | None) -> dict[str, Any]:
    """The fields that follow from a ticket's seats: whether it is for sale, and (one seat
    only) which order holds it."""
    return {
        "quantity": quantity,
        "held": held,
        "for_sale": held < quantity,
        "order_id": order_id if quantity == 1 and held == 1 else None,
    }


@dataclass
class TicketService:
    outbox: Outbox
    tickets: TicketRepository
    orders: OrderReplicaRepository
    cursors: CursorCodec
    pages: PageCache

    async def listing(self, query: ListingQuery) -> tuple[bytes, str | None]:
        """One page of the listing as JSON, and the cursor of the next (None on the last page):
        as last answered, while no ticket has changed since (`tickets.page_cache`)."""
        key = query.page_key
        kept = self.pages.get(key)
        if kept is not None:
            return kept.body, kept.next_cursor
        generation = self.pages.generation
        after = None if query.cursor is None else self.cursors.decode(query.cursor, query.sort)
        page, following = await self.tickets.listing_page(query, after)
        body = listing_json(page)
        next_cursor = None if following is None else self.cursors.encode(query.sort, following)
        self.pages.keep(key, generation, body, next_cursor)
        return body, next_cursor

    async def _commit(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        """Run `work` through the outbox; whatever became of it, no page kept from before may
        be answered after (a commit whose answer was lost may have happened)."""
        try:
            return await self.outbox.run(work)
        finally:
            self.pages.drop_all()

    async def get(self, ticket_id: ObjectId) -> Ticket:
        ticket = await self.tickets.get(ticket_id)
        if ticket is None:
            raise NotFound()
        return ticket

    async def list_by_seller(self, seller: UserClaims) -> list[Ticket]:
        """The seller's listings, newest first, reserved and sold ones included."""
        return await self.tickets.of_seller(seller.id)

    async def seats_sold(self, tickets: list[Ticket]) -> dict[str, int]:
        """Each ticket's seats held by complete orders, with one query for them all."""
        sold = await self.orders.seats_sold(
            [str(ticket.id) for ticket in tickets if ticket.held > 0]
        )
        return {str(ticket.id): sold.get(str(ticket.id), 0) for ticket in tickets}

    async def create(self, seller: UserClaims, data: TicketIn) -> Ticket:
        ticket = Ticket(
            id=ObjectId(),  # now: the listing's keys include it
            title=data.title,
            price_cents=data.price_cents,
            user_id=seller.id,
            quantity=data.quantity or 1,
            **data.optional_changes(),
        )
        check_on_sale(ticket)
        ticket = ticket.model_copy(update=ticket.listing_fields())

        async def work(tx: Transaction) -> None:
            await self.tickets.add(ticket, session=tx.session)
            tx.publish(ticket_created(ticket))

        await self._commit(work)
        return ticket

    async def update(self, ticket_id: ObjectId, editor: UserClaims, data: TicketIn) -> Ticket:
        async def attempt() -> Ticket:
            ticket = await self.get(ticket_id)
            # The contract's order: a reserved ticket is refused before ownership is checked.
            if ticket.quantity == 1 and ticket.held > 0:
                raise BadRequest(RESERVED)
            if ticket.user_id != editor.id:
                raise NotAuthorized()
            quantity = ticket.quantity if data.quantity is None else data.quantity
            if quantity < ticket.held:
                raise below_held(ticket.held)
            check_on_sale(ticket.model_copy(update=data.optional_changes()))

            async def work(tx: Transaction) -> Ticket:
                holder = None
                if quantity == 1 and ticket.held == 1:
                    holder = await self.orders.holder_of(str(ticket.id), session=tx.session)
                changes = {
                    "title": data.title,
                    "price_cents": data.price_cents,
                    **data.optional_changes(),
                    **seat_changes(quantity=quantity, held=ticket.held, order_id=holder),
                }
                if quantity < ticket.quantity:
                    changes["lowered_at"] = ticket.version + 1
                updated = await self.tickets.edit(ticket, changes, session=tx.session)
                tx.publish(ticket_updated(updated))
                return updated

            return await self._commit(work)

        # A reservation may land between our read and our write: then decide again.
        return await retry_on_conflict(attempt)

    async def take_seats(self, event: OrderCreated) -> Outcome:
        """Count an order's seats as held. Orders decided it may have them (it keeps the count
        it refuses orders by); this is the owner's record of it, and what the listing shows."""

        async def work(tx: Transaction) -> Outcome:
            await self.orders.created(event, session=tx.session)
            order = await self.orders.get(ObjectId(event.id), session=tx.session)
            if order is None or order.status is OrderStatus.CANCELLED:
                return Outcome.ACK  # cancelled before its creation reached us: nothing to hold
            if order.seats_taken:
                return Outcome.ACK  # already counted: a redelivery
            ticket = await self.tickets.get(ObjectId(event.ticket.id), session=tx.session)
            if ticket is None:
                raise LookupError(f"order {event.id} reserves unknown ticket {event.ticket.id}")
            quantity = ticket.quantity
            if ticket.available < event.quantity:
                placed_against = event.ticket.version
                if (
                    ticket.lowered_at is not None
                    and placed_against is not None
                    and placed_against < ticket.lowered_at
                ):
                    # Orders sold these seats before it heard that the seller lowered the
                    # quantity: the seller's edit is the one that cannot stand in full.
                    quantity = ticket.held + event.quantity
                else:
                    # Orders counted seats that a cancel it made has freed: on its way.
                    return Outcome.RETRY_LATER
            held = ticket.held + event.quantity
            changes = seat_changes(quantity=quantity, held=held, order_id=event.id)
            taken = await self.tickets.edit(ticket, changes, session=tx.session)
            await self.orders.count_seats(event.id, taken=True, session=tx.session)
            tx.publish(ticket_updated(taken))
            return Outcome.ACK

        return await self._commit(work)

    async def release_for_cancelled_order(self, event: OrderCancelled) -> Outcome:
        async def work(tx: Transaction) -> Outcome:
            applied = await self.orders.moved_to(
                event.id, event.version, OrderStatus.CANCELLED, session=tx.session
            )
            if applied is ApplyResult.NOT_YET:
                return Outcome.RETRY_LATER  # its order.created has not reached us yet
            if applied is ApplyResult.ALREADY_APPLIED:
                return Outcome.ACK  # the release was made with it (same transaction)
            order = await self.orders.get(ObjectId(event.id), session=tx.session)
            # Only the seats this order took, once: never another order's.
            if order is None or not order.seats_taken:
                return Outcome.ACK
            ticket = await self.tickets.get(ObjectId(event.ticket.id), session=tx.session)
            if ticket is None:
                raise LookupError(f"order {event.id} releases unknown ticket {event.ticket.id}")
            held = ticket.held - order.quantity
            changes = seat_changes(quantity=ticket.quantity, held=held, order_id=None)
            released = await self.tickets.edit(ticket, changes, session=tx.session)
            await self.orders.count_seats(event.id, taken=False, session=tx.session)
            tx.publish(ticket_updated(released))
            return Outcome.ACK

        return await self._commit(work)

    async def mark_order_completed(self, event: OrderCompleted) -> Outcome:
        """A paid order keeps its ticket for good: the listing shows as sold. The ticket itself
        does not change (no new version), only what we know of its order."""
        applied = await self.orders.moved_to(event.id, event.version, OrderStatus.COMPLETE)
        return Outcome.of(applied)
