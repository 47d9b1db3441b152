"""The orders service's collaborators, opened once by the lifespan and handed to its routes
and listeners."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends

from orders.pass_mail import ORDER_COMPLETE, PassMail
from orders.passes import PassBook
from orders.replica import TicketReplicaKeeper
from orders.repository import (
    BuyerSeatsRepository,
    OrderRepository,
    PassRepository,
    TicketReplicaRepository,
)
from orders.service import OrderService
from orders.settings import OrdersSettings
from tixcommon.admission import AdmissionCodec
from tixcommon.context import ServiceContext, wiring_dependency
from tixcommon.mail import running_mail


@dataclass(frozen=True)
class Wiring:
    settings: OrdersSettings
    orders: OrderService
    passes: PassBook
    replica: TicketReplicaKeeper


async def open_wiring(context: ServiceContext[OrdersSettings]) -> Wiring:
    settings = context.settings
    tickets = TicketReplicaRepository()
    order_records = OrderRepository()
    await order_records.retire_single_holder_index()
    await tickets.count_free_seats(order_records)
    passes = PassBook(settings.pass_keys(), PassRepository(), tickets)
    mail = PassMail(order_records, passes, settings.public_url)
    relay = await context.exit_stack.enter_async_context(
        running_mail(
            context.database,
            {ORDER_COMPLETE: mail.render},
            settings,
            sample_seconds=settings.metrics_sample_seconds,
        )
    )
    orders = OrderService(
        context.require_outbox(),
        timedelta(seconds=settings.expiration_window_seconds),
        order_records,
        tickets,
        BuyerSeatsRepository(order_records),
        AdmissionCodec(settings.jwt_key.get_secret_value()),
        passes,
        relay,
    )
    return Wiring(settings, orders, passes, TicketReplicaKeeper(tickets))


Wired = Annotated[Wiring, Depends(wiring_dependency(Wiring))]


async def _orders(wiring: Wired) -> OrderService:
    return wiring.orders


Orders = Annotated[OrderService, Depends(_orders)]


async def _passes(wiring: Wired) -> PassBook:
    return wiring.passes


Passes = Annotated[PassBook, Depends(_passes)]
