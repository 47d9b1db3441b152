"""A new order starts its reservation clock."""

from __future__ import annotations

from typing import Any

from expiration.wiring import Wiring
from tixcommon.bus import Listener, on
from tixcommon.events import OrderCreated


def subscriptions(wiring: Wiring) -> list[Listener[Any]]:
    return [on(OrderCreated, wiring.scheduler.record_and_schedule)]
