"""What the room learns from the shop's events: which tickets have a sale scheduled and how
many seats they have left (ticket events), and who used an admission (order events)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tixcommon.bus import Outcome
from tixcommon.events import OrderCreated, TicketCreated, TicketUpdated
from waitingroom.repository import RoomStore


def _milliseconds(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


@dataclass
class RoomKeeper:
    store: RoomStore

    async def ticket_created(self, event: TicketCreated) -> Outcome:
        available = event.quantity if event.available is None else event.available
        return await self._ticket(event, available)

    async def ticket_updated(self, event: TicketUpdated) -> Outcome:
        # A producer that predates seats sends one seat, held when an order holds it.
        if event.available is not None:
            available = event.available
        else:
            available = 0 if event.order_id is not None else event.quantity
        return await self._ticket(event, available)

    async def _ticket(self, event: TicketCreated | TicketUpdated, available: int) -> Outcome:
        applied = await self.store.apply_ticket(
            event.id,
            event.version,
            _milliseconds(event.on_sale_at),
            available,
            event.quantity,
            event.per_buyer_limit,
        )
        # Whole state, newest wins: an older version arriving late is a duplicate.
        return Outcome.ACK if applied else Outcome.DUPLICATE

    async def order_created(self, event: OrderCreated) -> Outcome:
        # An admission is for one purchase: its order holds the seats it took, and the rest the
        # admission held go back to the line at once. (For a ticket with no room, a buyer with
        # no admission, or a second order with one already used, this changes nothing.)
        await self.store.use_admission(
            event.ticket.id, event.user_id, event.quantity, event.id, event.ticket.version
        )
        return Outcome.ACK
