"""Ticket events feed the ticket replica; expiration and payment events end orders."""

from __future__ import annotations

from typing import Any

from orders.wiring import Wiring
from tixcommon.bus import Listener, on
from tixcommon.events import ExpirationComplete, PaymentCreated, TicketCreated, TicketUpdated


def subscriptions(wiring: Wiring) -> list[Listener[Any]]:
    return [
        on(TicketCreated, wiring.replica.ticket_created),
        on(TicketUpdated, wiring.replica.ticket_updated),
        on(ExpirationComplete, wiring.orders.expire),
        on(PaymentCreated, wiring.orders.complete),
    ]
