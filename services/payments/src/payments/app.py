"""The payments service's app."""

from __future__ import annotations

from contextlib import AsyncExitStack

from fastapi import FastAPI

from payments.listeners import (
    OrderCancelledListener,
    OrderCompletedListener,
    OrderCreatedListener,
)
from payments.models import OrderReplica, Payment
from payments.routes import router
from payments.service import PaymentService
from payments.settings import PaymentsSettings
from payments.stripe_gateway import StripeGateway
from tixcommon.app import create_app as create_service_app
from tixcommon.context import ServiceContext
from tixcommon.periodic import running_every


def create_app(settings: PaymentsSettings) -> FastAPI:
    async def setup(app: FastAPI, context: ServiceContext, stack: AsyncExitStack) -> None:
        gateway = StripeGateway(
            settings.stripe_key.get_secret_value(),
            api_base=settings.stripe_api_base,
            timeout=settings.stripe_timeout_seconds,
            currency=settings.currency,
        )
        stack.push_async_callback(gateway.close)
        context.extras["stripe"] = gateway
        payments = PaymentService.of(context)
        await stack.enter_async_context(
            running_every(
                settings.payment_settle_seconds,
                payments.settle_abandoned,
                name="settling abandoned payment claims",
            )
        )

    return create_service_app(
        settings,
        title="TixVibe payments",
        api_prefix="/api/payments",
        routers=[router],
        documents=[OrderReplica, Payment],
        listeners=[OrderCreatedListener, OrderCancelledListener, OrderCompletedListener],
        setup=setup,
    )
