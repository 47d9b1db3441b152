"""Paying for an order: never twice, nothing stored when the card is declined, and refunded
when the order was cancelled before the payment landed."""

from __future__ import annotations

from dataclasses import dataclass

from bson import ObjectId

from payments.claims import ClaimSettler
from payments.metrics import PAYMENTS
from payments.models import OrderReplica, Payment, PaymentStatus
from payments.recording import PaymentRecorder, Recorded
from payments.repository import OrderReplicaRepository, PaymentRepository
from payments.stripe_gateway import PROVIDER_UNAVAILABLE, PaymentDeclined, StripeGateway
from tixcommon.auth import UserClaims
from tixcommon.errors import AppError, BadRequest, NotAuthorized, NotFound, ServiceUnavailable
from tixcommon.events import OrderStatus

CANCELLED = "Cannot pay for a cancelled order"
ALREADY_PAID = "Order is already paid"
IN_PROGRESS = "A payment for this order is already in progress"
REFUNDED = "The order was cancelled while you paid; your payment has been refunded"


@dataclass
class PaymentService:
    stripe: StripeGateway
    payments: PaymentRepository
    orders: OrderReplicaRepository
    recorder: PaymentRecorder
    claims: ClaimSettler

    async def pay(self, payer: UserClaims, order_id: ObjectId, payment_method: str) -> Payment:
        order = await self.orders.get(str(order_id))
        if order is None:
            raise NotFound()
        if order.user_id != payer.id:
            raise NotAuthorized()
        if order.status is OrderStatus.CANCELLED:
            raise BadRequest(CANCELLED)
        if order.status is OrderStatus.COMPLETE:
            raise BadRequest(ALREADY_PAID)
        claim = await self._claim(order)
        # The claim keys both Stripe calls: a retry of either is one charge, and a new attempt
        # (another card after a decline) is a new intent, not a clash with the old key.
        attempt = str(claim.id)
        try:
            intent_id = await self.stripe.create_intent(
                attempt, str(order_id), claim.amount_cents, payment_method
            )
            # Remembered before confirming, so a charge whose answer is lost can be found again.
            if not await self.payments.note_intent(claim, intent_id):
                # This request outlived its claim, which was settled as abandoned: never
                # confirm behind the back of whoever holds the order now.
                raise ServiceUnavailable(PROVIDER_UNAVAILABLE)
        except AppError:
            await self.payments.release(claim)  # nothing was confirmed, so nothing was charged
            raise
        try:
            await self.stripe.confirm(attempt, intent_id)
        except PaymentDeclined:
            await self.payments.release(claim)
            PAYMENTS.labels("declined").inc()
            raise
        # Stripe unavailable mid-confirm propagates with the claim kept: the charge may have
        # happened, and settling the claim from Stripe's own record (ClaimSettler) tells.
        recording = await self.recorder.record_success(str(order_id), intent_id, claim.amount_cents)
        if recording.result is Recorded.REFUNDED:
            raise BadRequest(REFUNDED)
        PAYMENTS.labels("succeeded").inc()
        return recording.payment

    async def _claim(self, order: OrderReplica) -> Payment:
        """Take the order's one payment slot before charging: of any number of concurrent
        requests, exactly one reaches Stripe (the unique index decides)."""
        order_id = str(order.id)
        for _ in range(3):
            claim = await self.payments.claim(order_id, order.amount_cents)
            if claim is not None:
                return claim
            existing = await self.payments.of_order(order_id)
            if existing is None:
                continue
            if existing.status is PaymentStatus.SUCCEEDED:
                raise BadRequest(ALREADY_PAID)
            if existing.created_at > self.claims.abandoned_before():
                raise BadRequest(IN_PROGRESS)
            # Abandoned by a request that died or lost Stripe's answer: settle it from what
            # Stripe knows, then try again (freed: ours to take; recorded: already paid).
            if not await self.claims.settle(existing):
                raise BadRequest(IN_PROGRESS)
        raise BadRequest(IN_PROGRESS)
