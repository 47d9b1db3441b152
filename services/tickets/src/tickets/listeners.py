"""Order events reserve, release and sell tickets."""

from __future__ import annotations

from typing import Any

from tickets.wiring import Wiring
from tixcommon.bus import Listener, on
from tixcommon.events import OrderCancelled, OrderCompleted, OrderCreated


def subscriptions(wiring: Wiring) -> list[Listener[Any]]:
    tickets = wiring.tickets
    return [
        on(OrderCreated, tickets.take_seats),
        on(OrderCancelled, tickets.release_for_cancelled_order),
        on(OrderCompleted, tickets.mark_order_completed),
    ]
