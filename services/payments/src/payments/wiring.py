"""The payments service's collaborators, opened once by the lifespan and handed to its routes
and listeners: Stripe, the payment and order data, and the claim settler that runs every few
seconds in every replica."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends

from payments.claims import ClaimSettler
from payments.recording import PaymentRecorder
from payments.replica import OrderReplicaKeeper
from payments.repository import OrderReplicaRepository, PaymentRepository
from payments.service import PaymentService
from payments.settings import PaymentsSettings
from payments.stripe_gateway import StripeGateway
from tixcommon.context import ServiceContext, wiring_dependency
from tixcommon.periodic import running_every


@dataclass(frozen=True)
class Wiring:
    settings: PaymentsSettings
    payments: PaymentService
    recorder: PaymentRecorder
    replica: OrderReplicaKeeper


async def open_wiring(context: ServiceContext[PaymentsSettings]) -> Wiring:
    settings = context.settings
    stripe = StripeGateway(
        settings.stripe_key.get_secret_value(),
        api_base=settings.stripe_api_base,
        timeout=settings.stripe_timeout_seconds,
        currency=settings.currency,
    )
    context.exit_stack.push_async_callback(stripe.close)
    payments, orders = PaymentRepository(), OrderReplicaRepository()
    recorder = PaymentRecorder(context.require_outbox(), stripe, payments, orders)
    claims = ClaimSettler(
        stripe, payments, recorder, timedelta(seconds=settings.payment_claim_timeout_seconds)
    )
    await context.exit_stack.enter_async_context(
        running_every(
            settings.payment_settle_seconds,
            claims.settle_abandoned,
            name="settling abandoned payment claims",
        )
    )
    await context.exit_stack.enter_async_context(
        running_every(
            settings.payment_settle_seconds, recorder.refund_owed, name="making refunds owed"
        )
    )
    return Wiring(
        settings,
        PaymentService(stripe, payments, orders, recorder, claims),
        recorder,
        OrderReplicaKeeper(orders, payments, recorder, claims),
    )


Wired = Annotated[Wiring, Depends(wiring_dependency(Wiring))]


async def _payments(wiring: Wired) -> PaymentService:
    return wiring.payments


Payments = Annotated[PaymentService, Depends(_payments)]
