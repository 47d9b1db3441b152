"""Order events that reserve, release and sell tickets."""

from __future__ import annotations

from tickets.service import TicketService
from tixcommon.bus import Delivery, Listener, Outcome
from tixcommon.context import ServiceContext
from tixcommon.events import OrderCancelled, OrderCompleted, OrderCreated


def _service(context: ServiceContext) -> TicketService:
    return TicketService(context.require_outbox())


class OrderCreatedListener(Listener[OrderCreated]):
    event_type = OrderCreated

    def __init__(self, context: ServiceContext) -> None:
        self.tickets = _service(context)

    async def handle(self, event: OrderCreated, delivery: Delivery) -> Outcome:
        return await self.tickets.reserve_for_order(event)


class OrderCancelledListener(Listener[OrderCancelled]):
    event_type = OrderCancelled

    def __init__(self, context: ServiceContext) -> None:
        self.tickets = _service(context)

    async def handle(self, event: OrderCancelled, delivery: Delivery) -> Outcome:
        return await self.tickets.release_for_cancelled_order(event)


class OrderCompletedListener(Listener[OrderCompleted]):
    event_type = OrderCompleted

    def __init__(self, context: ServiceContext) -> None:
        self.tickets = _service(context)

    async def handle(self, event: OrderCompleted, delivery: Delivery) -> Outcome:
        return await self.tickets.mark_order_completed(event)
