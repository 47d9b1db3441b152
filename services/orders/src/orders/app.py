"""The orders service's app."""

from __future__ import annotations

from fastapi import FastAPI

from orders.listeners import subscriptions
from orders.models import Order, Pass, TicketReplica
from orders.routes import checkins, router
from orders.settings import OrdersSettings
from orders.wiring import open_wiring
from tixcommon.app import create_app as create_service_app


def create_app(settings: OrdersSettings) -> FastAPI:
    return create_service_app(
        settings,
        title="TixVibe orders",
        api_prefix="/api/orders",
        routers=[router, checkins],
        documents=[Order, Pass, TicketReplica],
        wiring=open_wiring,
        subscriptions=subscriptions,
    )
