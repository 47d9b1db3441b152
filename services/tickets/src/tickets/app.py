"""The tickets service's app."""

from __future__ import annotations

from fastapi import FastAPI

from tickets.listeners import subscriptions
from tickets.models import OrderReplica, Ticket
from tickets.routes import router
from tickets.settings import TicketsSettings
from tickets.wiring import open_wiring
from tixcommon.app import create_app as create_service_app


def create_app(settings: TicketsSettings) -> FastAPI:
    return create_service_app(
        settings,
        title="TixVibe tickets",
        api_prefix="/api/tickets",
        routers=[router],
        documents=[Ticket, OrderReplica],
        wiring=open_wiring,
        subscriptions=subscriptions,
    )
