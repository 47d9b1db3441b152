"""The tickets service's collaborators, opened once by the lifespan and handed to its routes
and listeners."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from tickets.repository import OrderReplicaRepository, TicketRepository
from tickets.service import TicketService
from tickets.settings import TicketsSettings
from tixcommon.context import ServiceContext, opened


@dataclass(frozen=True)
class Wiring:
    settings: TicketsSettings
    tickets: TicketService


async def open_wiring(context: ServiceContext[TicketsSettings]) -> Wiring:
    return Wiring(
        context.settings,
        TicketService(context.require_outbox(), TicketRepository(), OrderReplicaRepository()),
    )


async def _tickets(request: Request) -> TicketService:
    return opened(request, Wiring).tickets


Tickets = Annotated[TicketService, Depends(_tickets)]
