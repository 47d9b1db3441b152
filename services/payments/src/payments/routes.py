"""The payments routes: pay for an order, and Stripe's webhook."""

from __future__ import annotations

from typing import Annotated

import stripe
from bson import ObjectId
from fastapi import Depends, Request, status

from payments.schemas import PaymentIn, PaymentOut
from payments.service import PaymentService
from payments.settings import PaymentsSettings
from tixcommon.auth import RequireUser
from tixcommon.context import Context
from tixcommon.errors import BadRequest
from tixcommon.routers import service_router

router = service_router("/api/payments", tags=["payments"])


async def payment_service(context: Context) -> PaymentService:
    return PaymentService.of(context)


Payments = Annotated[PaymentService, Depends(payment_service)]


@router.post("", status_code=status.HTTP_201_CREATED)
async def pay(user: RequireUser, body: PaymentIn, payments: Payments) -> PaymentOut:
    payment = await payments.pay(user, ObjectId(body.order_id), body.token)
    return PaymentOut(id=str(payment.id))


@router.post("/webhook")
async def stripe_webhook(request: Request, payments: Payments, context: Context) -> dict[str, bool]:
    """Stripe tells us of payments confirmed outside our request (a crash mid-request, a
    card that needed the bank's approval). Verified over the raw body; recorded once."""
    settings = context.settings
    assert isinstance(settings, PaymentsSettings)
    payload = await request.body()
    try:
        event = stripe.Webhook.construct_event(
            payload.decode("utf-8"),
            request.headers.get("stripe-signature", ""),
            settings.stripe_webhook_secret.get_secret_value(),
        )
    except (ValueError, UnicodeDecodeError, stripe.SignatureVerificationError):
        raise BadRequest("Invalid webhook signature") from None
    if event.type == "payment_intent.succeeded":
        intent = event.data.object.to_dict()
        order_id = (intent.get("metadata") or {}).get("orderId")
        if isinstance(order_id, str) and ObjectId.is_valid(order_id):
            await payments.record_success(order_id, str(intent["id"]), int(intent["amount"]))
    return {"received": True}
