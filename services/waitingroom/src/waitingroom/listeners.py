"""Ticket events open, close and size the rooms; new orders use admissions up."""

from __future__ import annotations

from typing import Any

from tixcommon.bus import Listener, on
from tixcommon.events import OrderCreated, TicketCreated, TicketUpdated
from waitingroom.wiring import Wiring


def subscriptions(wiring: Wiring) -> list[Listener[Any]]:
    return [
        on(TicketCreated, wiring.keeper.ticket_created),
        on(TicketUpdated, wiring.keeper.ticket_updated),
        on(OrderCreated, wiring.keeper.order_created),
    ]
