"""The payments service's app."""

from __future__ import annotations

from fastapi import FastAPI

from payments.listeners import subscriptions
from payments.models import OrderReplica, Payment
from payments.routes import router
from payments.settings import PaymentsSettings
from payments.wiring import open_wiring
from tixcommon.app import create_app as create_service_app


def create_app(settings: PaymentsSettings) -> FastAPI:
    return create_service_app(
        settings,
        title="TixVibe payments",
        api_prefix="/api/payments",
        routers=[router],
        documents=[OrderReplica, Payment],
        wiring=open_wiring,
        subscriptions=subscriptions,
    )
