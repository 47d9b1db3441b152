"""Ticket events feed the ticket replica; expiration and payment events end orders."""

from __future__ import annotations

from datetime import timedelta

from bson import ObjectId

from orders.models import TicketReplica
from orders.service import OrderService
from orders.settings import OrdersSettings
from tixcommon.bus import Delivery, Listener, Outcome
from tixcommon.context import ServiceContext
from tixcommon.db import ApplyResult
from tixcommon.events import ExpirationComplete, PaymentCreated, TicketCreated, TicketUpdated


def order_service(context: ServiceContext) -> OrderService:
    settings = context.settings
    assert isinstance(settings, OrdersSettings)
    return OrderService(
        context.require_outbox(), timedelta(seconds=settings.expiration_window_seconds)
    )


class TicketCreatedListener(Listener[TicketCreated]):
    event_type = TicketCreated

    def __init__(self, context: ServiceContext) -> None:
        pass

    async def handle(self, event: TicketCreated, delivery: Delivery) -> Outcome:
        await TicketReplica.insert_replica(
            {
                "_id": ObjectId(event.id),
                "title": event.title,
                "price": event.price,
                "version": event.version,
            }
        )
        return Outcome.ACK


class TicketUpdatedListener(Listener[TicketUpdated]):
    event_type = TicketUpdated

    def __init__(self, context: ServiceContext) -> None:
        pass

    async def handle(self, event: TicketUpdated, delivery: Delivery) -> Outcome:
        result = await TicketReplica.apply_version(
            ObjectId(event.id), event.version, {"title": event.title, "price": event.price}
        )
        return Outcome.RETRY_LATER if result is ApplyResult.NOT_YET else Outcome.ACK


class ExpirationCompleteListener(Listener[ExpirationComplete]):
    event_type = ExpirationComplete

    def __init__(self, context: ServiceContext) -> None:
        self.orders = order_service(context)

    async def handle(self, event: ExpirationComplete, delivery: Delivery) -> Outcome:
        await self.orders.expire(ObjectId(event.order_id))
        return Outcome.ACK


class PaymentCreatedListener(Listener[PaymentCreated]):
    event_type = PaymentCreated

    def __init__(self, context: ServiceContext) -> None:
        self.orders = order_service(context)

    async def handle(self, event: PaymentCreated, delivery: Delivery) -> Outcome:
        await self.orders.complete(event)
        return Outcome.ACK
