"""A new order starts its reservation clock."""

from __future__ import annotations

from expiration.service import ExpiryScheduler
from tixcommon.bus import Delivery, Listener, Outcome
from tixcommon.context import ServiceContext
from tixcommon.events import OrderCreated


class OrderCreatedListener(Listener[OrderCreated]):
    event_type = OrderCreated

    def __init__(self, context: ServiceContext) -> None:
        self.scheduler: ExpiryScheduler = context.extras["scheduler"]

    async def handle(self, event: OrderCreated, delivery: Delivery) -> Outcome:
        await self.scheduler.record_and_schedule(event)
        return Outcome.ACK
