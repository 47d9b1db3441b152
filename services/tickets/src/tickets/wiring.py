"""The tickets service's collaborators, opened once by the lifespan and handed to its routes
and listeners."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from tickets.repository import OrderReplicaRepository, TicketRepository
from tickets.service import TicketService
from tickets.settings import TicketsSettings
from tixcommon.context import ServiceContext, wiring_dependency
from tixcommon.pages import CursorCodec


@dataclass(frozen=True)
class Wiring:
    settings: TicketsSettings
    tickets: TicketService


async def open_wiring(context: ServiceContext[TicketsSettings]) -> Wiring:
    tickets = TicketRepository()
    await tickets.mark_listings()
    return Wiring(
        context.settings,
        TicketService(
            context.require_outbox(),
            tickets,
            OrderReplicaRepository(),
            CursorCodec(context.settings.jwt_key.get_secret_value(), "tickets listing cursor"),
        ),
    )


Wired = Annotated[Wiring, Depends(wiring_dependency(Wiring))]


async def _tickets(wiring: Wired) -> TicketService:
    return wiring.tickets


Tickets = Annotated[TicketService, Depends(_tickets)]
