"""Ticket events keep the orders service's replica of tickets: what a buyer can order, at what
price."""

from __future__ import annotations

from dataclasses import dataclass

from orders.repository import TicketReplicaRepository
from tixcommon.bus import Outcome
from tixcommon.events import TicketCreated, TicketUpdated


@dataclass
class TicketReplicaKeeper:
    tickets: TicketReplicaRepository

    async def ticket_created(self, event: TicketCreated) -> Outcome:
        return Outcome.of(await self.tickets.created(event))

    async def ticket_updated(self, event: TicketUpdated) -> Outcome:
        return Outcome.of(await self.tickets.updated(event))
