"""Order events keep the order replica; a cancel refunds a payment that came too late."""

from __future__ import annotations

from payments.service import PaymentService
from tixcommon.bus import Delivery, Listener, Outcome
from tixcommon.context import ServiceContext
from tixcommon.events import OrderCancelled, OrderCompleted, OrderCreated


class OrderCreatedListener(Listener[OrderCreated]):
    event_type = OrderCreated

    def __init__(self, context: ServiceContext) -> None:
        self.payments = PaymentService.of(context)

    async def handle(self, event: OrderCreated, delivery: Delivery) -> Outcome:
        return await self.payments.order_created(event)


class OrderCancelledListener(Listener[OrderCancelled]):
    event_type = OrderCancelled

    def __init__(self, context: ServiceContext) -> None:
        self.payments = PaymentService.of(context)

    async def handle(self, event: OrderCancelled, delivery: Delivery) -> Outcome:
        return await self.payments.order_cancelled(event)


class OrderCompletedListener(Listener[OrderCompleted]):
    event_type = OrderCompleted

    def __init__(self, context: ServiceContext) -> None:
        self.payments = PaymentService.of(context)

    async def handle(self, event: OrderCompleted, delivery: Delivery) -> Outcome:
        return await self.payments.order_completed(event)
