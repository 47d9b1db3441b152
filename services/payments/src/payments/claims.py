"""Settling the payment claims their requests abandoned (a crash, or Stripe's answer lost),
from Stripe's own record of each charge."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from payments.metrics import PAYMENTS
from payments.models import Payment
from payments.recording import PaymentRecorder
from payments.repository import PaymentRepository
from payments.stripe_gateway import StripeGateway
from tixcommon.outages import is_outage

logger = logging.getLogger(__name__)


@dataclass
class ClaimSettler:
    stripe: StripeGateway
    payments: PaymentRepository
    recorder: PaymentRecorder
    claim_timeout: timedelta

    def abandoned_before(self) -> datetime:
        """A claim pending since before this was left by its request."""
        return datetime.now(UTC) - self.claim_timeout

    async def settle(self, claim: Payment) -> bool:
        """Settle a claim its request abandoned, from Stripe's record of its intent: a charge
        that went through is recorded (and refunded if the order was cancelled meanwhile); an
        attempt that charged nothing is cancelled for good and the claim freed. False while
        Stripe is still processing the charge."""
        if claim.stripe_id is not None:
            status = await self.stripe.status(claim.stripe_id)
            if status not in ("succeeded", "processing", "canceled"):
                # Cancelled before freeing the claim, so it can never charge later; a charge
                # that lands first turns the cancel down and is recorded below.
                status = await self.stripe.cancel(claim.stripe_id)
            if status == "processing":
                return False
            if status == "succeeded":
                await self.recorder.record_success(
                    claim.order_id, claim.stripe_id, claim.amount_cents
                )
                PAYMENTS.labels("reconciled").inc()
                return True
        await self.payments.release(claim)
        return True

    async def settle_abandoned(self) -> int:
        """Settle every claim pending for longer than a request may take: the requests that
        held them crashed, or lost Stripe's answer, and Stripe's webhook may never come (or
        came while we could not record it). Runs every few seconds in every replica; the
        steps are conditional, so replicas racing on one claim settle it once."""
        settled = 0
        for claim in await self.payments.abandoned(self.abandoned_before()):
            try:
                settled += await self.settle(claim)
            except Exception as error:
                if is_outage(error):
                    raise  # the next round tries them all again
                # One claim Stripe cannot make sense of must not hold up the others.
                logger.exception(
                    "payment claim could not be settled",
                    extra={"claim": str(claim.id), "error": repr(error)},
                )
        if settled:
            logger.warning("settled abandoned payment claims", extra={"count": settled})
        return settled
