"""Order events keep the order replica; a cancel refunds a payment that came too late."""

from __future__ import annotations

from typing import Any

from payments.wiring import Wiring
from tixcommon.bus import Listener, on
from tixcommon.events import OrderCancelled, OrderCompleted, OrderCreated


def subscriptions(wiring: Wiring) -> list[Listener[Any]]:
    return [
        on(OrderCreated, wiring.replica.order_created),
        on(OrderCancelled, wiring.replica.order_cancelled),
        on(OrderCompleted, wiring.replica.order_completed),
    ]
