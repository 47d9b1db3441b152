"""The orders service's collaborators, opened once by the lifespan and handed to its routes
and listeners."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request

from orders.replica import TicketReplicaKeeper
from orders.repository import OrderRepository, TicketReplicaRepository
from orders.service import OrderService
from orders.settings import OrdersSettings
from tixcommon.context import ServiceContext, opened


@dataclass(frozen=True)
class Wiring:
    settings: OrdersSettings
    orders: OrderService
    replica: TicketReplicaKeeper


async def open_wiring(context: ServiceContext[OrdersSettings]) -> Wiring:
    settings = context.settings
    tickets = TicketReplicaRepository()
    orders = OrderService(
        context.require_outbox(),
        timedelta(seconds=settings.expiration_window_seconds),
        OrderRepository(),
        tickets,
    )
    return Wiring(settings, orders, TicketReplicaKeeper(tickets))


async def _orders(request: Request) -> OrderService:
    return opened(request, Wiring).orders


Orders = Annotated[OrderService, Depends(_orders)]
