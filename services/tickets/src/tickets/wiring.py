"""The tickets service's collaborators, opened once by the lifespan and handed to its routes
and listeners."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from tickets.page_cache import PageCache
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
    pages = PageCache(context.settings.listing_cache_seconds)
    await drop_pages_on_ticket_events(context, pages)
    return Wiring(
        context.settings,
        TicketService(
            context.require_outbox(),
            tickets,
            OrderReplicaRepository(),
            CursorCodec(context.settings.jwt_key.get_secret_value(), "tickets listing cursor"),
            pages,
        ),
    )


async def drop_pages_on_ticket_events(
    context: ServiceContext[TicketsSettings], pages: PageCache
) -> None:
    """Every replica hears every ticket event (a plain subscription, beside the stream's
    durable consumers, which hand each event to one replica): another replica's change drops
    this one's pages within milliseconds of its commit."""
    if pages.seconds <= 0:
        return
    unsubscribe = await context.require_bus().watch("ticket.*", pages.drop_all)
    context.exit_stack.push_async_callback(unsubscribe)


Wired = Annotated[Wiring, Depends(wiring_dependency(Wiring))]


async def _tickets(wiring: Wired) -> TicketService:
    return wiring.tickets


Tickets = Annotated[TicketService, Depends(_tickets)]
