"""The payments routes: pay for an order, and Stripe's webhook."""

from __future__ import annotations

import stripe
from bson import ObjectId
from fastapi import Request, status

from payments.schemas import PaymentIn, PaymentOut
from payments.service import ALREADY_PAID, CANCELLED, IN_PROGRESS, REFUNDED
from payments.wiring import Payments, Wired
from tixcommon.auth import RequireUser
from tixcommon.errors import BadRequest, NotAuthorized, NotFound
from tixcommon.idempotency import RETRY_SAFE
from tixcommon.openapi import refusals
from tixcommon.routers import service_router

router = service_router("/api/payments", tags=["payments"])

INVALID_SIGNATURE = "Invalid webhook signature"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[RETRY_SAFE],
    responses=refusals(
        BadRequest(CANCELLED),
        BadRequest(ALREADY_PAID),
        BadRequest(IN_PROGRESS),
        BadRequest(REFUNDED),
        BadRequest("Your card was declined."),  # Stripe's words, whatever they are
        NotFound(),
        NotAuthorized(),
    ),
)
async def pay(user: RequireUser, body: PaymentIn, payments: Payments) -> PaymentOut:
    payment = await payments.pay(user, ObjectId(body.order_id), body.token)
    return PaymentOut(id=str(payment.id))


@router.post(
    "/webhook",
    responses=refusals(BadRequest(INVALID_SIGNATURE)),
    openapi_extra={
        "parameters": [
            {
                "name": "Stripe-Signature",
                "in": "header",
                "required": True,
                "description": "Stripe's signature of the body, by the webhook's secret",
                "schema": {"type": "string"},
            }
        ],
        "requestBody": {
            "required": True,
            "description": "A Stripe event, as Stripe sends it",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    },
)
async def stripe_webhook(request: Request, wired: Wired) -> dict[str, bool]:
    """Stripe tells us of payments confirmed outside our request (a crash mid-request, a
    card that needed the bank's approval). Verified over the raw body; recorded once."""
    settings = wired.settings
    payload = await request.body()
    try:
        event = stripe.Webhook.construct_event(
            payload.decode("utf-8"),
            request.headers.get("stripe-signature", ""),
            settings.stripe_webhook_secret.get_secret_value(),
        )
    except (ValueError, UnicodeDecodeError, stripe.SignatureVerificationError):
        raise BadRequest(INVALID_SIGNATURE) from None
    if event.type == "payment_intent.succeeded":
        intent = event.data.object.to_dict()
        order_id = (intent.get("metadata") or {}).get("orderId")
        if isinstance(order_id, str) and ObjectId.is_valid(order_id):
            await wired.recorder.record_success(order_id, str(intent["id"]), int(intent["amount"]))
    return {"received": True}
