"""Paying for an order: never twice, nothing stored when the card is declined, and refunded
when the order was cancelled before the payment landed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from payments.models import OrderReplica, Payment, PaymentStatus
from payments.settings import PaymentsSettings
from payments.stripe_gateway import PROVIDER_UNAVAILABLE, PaymentDeclined, StripeGateway
from tixcommon.auth import UserClaims
from tixcommon.bus import Outbox, Outcome, Transaction
from tixcommon.context import ServiceContext
from tixcommon.db import ApplyResult
from tixcommon.errors import AppError, BadRequest, NotAuthorized, NotFound, ServiceUnavailable
from tixcommon.events import (
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    OrderStatus,
    PaymentCreated,
)
from tixcommon.outages import is_outage

CANCELLED = "Cannot pay for a cancelled order"
ALREADY_PAID = "Order is already paid"
IN_PROGRESS = "A payment for this order is already in progress"
REFUNDED = "The order was cancelled while you paid; your payment has been refunded"

logger = logging.getLogger(__name__)


def cents(price: float) -> int:
    return round(price * 100)


@dataclass
class PaymentService:
    outbox: Outbox
    stripe: StripeGateway
    claim_timeout: timedelta

    @classmethod
    def of(cls, context: ServiceContext) -> PaymentService:
        settings = context.settings
        assert isinstance(settings, PaymentsSettings)
        return cls(
            context.require_outbox(),
            context.extras["stripe"],
            timedelta(seconds=settings.payment_claim_timeout_seconds),
        )

    async def pay(self, payer: UserClaims, order_id: ObjectId, payment_method: str) -> Payment:
        order = await OrderReplica.get(order_id)
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
            if not await self._note_intent(claim, intent_id):
                # This request outlived its claim, which was settled as abandoned: never
                # confirm behind the back of whoever holds the order now.
                raise ServiceUnavailable(PROVIDER_UNAVAILABLE)
        except AppError:
            await self._release(claim)  # nothing was confirmed, so nothing was charged
            raise
        try:
            await self.stripe.confirm(attempt, intent_id)
        except PaymentDeclined:
            await self._release(claim)
            raise
        # Stripe unavailable mid-confirm propagates with the claim kept: the charge may have
        # happened, and settling the claim from Stripe's own record (settle_abandoned) tells.
        payment, refunded = await self.record_success(str(order_id), intent_id, claim.amount_cents)
        if refunded:
            raise BadRequest(REFUNDED)
        return payment

    async def _note_intent(self, claim: Payment, intent_id: str) -> bool:
        """Remember the intent on the claim before confirming it, so a charge whose answer is
        lost can be found again. False if the claim is no longer ours."""
        noted = await Payment.get_pymongo_collection().update_one(
            {"_id": claim.id, "status": PaymentStatus.PENDING.value},
            {"$set": {"stripe_id": intent_id}},
        )
        return noted.matched_count == 1

    @staticmethod
    async def _release(claim: Payment) -> None:
        await Payment.get_pymongo_collection().delete_one(
            {"_id": claim.id, "status": PaymentStatus.PENDING.value}
        )

    async def _claim(self, order: OrderReplica) -> Payment:
        """Take the order's one payment slot before charging: of any number of concurrent
        requests, exactly one reaches Stripe (the unique index decides)."""
        for _ in range(3):
            claim = Payment(
                order_id=str(order.id),
                status=PaymentStatus.PENDING,
                amount_cents=cents(order.price),
            )
            try:
                await claim.insert()
                return claim
            except DuplicateKeyError:
                existing = await Payment.find_one(Payment.order_id == str(order.id))
            if existing is None:
                continue
            if existing.status is PaymentStatus.SUCCEEDED:
                raise BadRequest(ALREADY_PAID)
            if existing.created_at > datetime.now(UTC) - self.claim_timeout:
                raise BadRequest(IN_PROGRESS)
            # Abandoned by a request that died or lost Stripe's answer: settle it from what
            # Stripe knows, then try again (freed: ours to take; recorded: already paid).
            if not await self.settle(existing):
                raise BadRequest(IN_PROGRESS)
        raise BadRequest(IN_PROGRESS)

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
                await self.record_success(claim.order_id, claim.stripe_id, claim.amount_cents)
                return True
        await self._release(claim)
        return True

    async def settle_abandoned(self) -> int:
        """Settle every claim pending for longer than a request may take: the requests that
        held them crashed, or lost Stripe's answer, and Stripe's webhook may never come (or
        came while we could not record it). Runs every few seconds in every replica; the
        steps are conditional, so replicas racing on one claim settle it once."""
        cutoff = datetime.now(UTC) - self.claim_timeout
        claims = (
            await Payment.find(Payment.status == PaymentStatus.PENDING, Payment.created_at < cutoff)
            .sort("created_at")
            .to_list()
        )
        settled = 0
        for claim in claims:
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

    async def record_success(
        self, order_id: str, stripe_id: str, amount_cents: int
    ) -> tuple[Payment, bool]:
        """Store a payment Stripe confirmed, with its `payment.created` event, once; if the
        order was cancelled meanwhile, refund it instead. Returns (payment, refunded)."""

        async def work(tx: Transaction) -> tuple[Payment, bool, bool]:
            payment = await Payment.find_one(Payment.order_id == order_id, session=tx.session)
            if payment is not None and payment.status is PaymentStatus.SUCCEEDED:
                return payment, False, payment.refund_id is not None
            if payment is None:  # confirmed outside a request (the webhook tells us)
                payment = Payment(
                    order_id=order_id,
                    status=PaymentStatus.SUCCEEDED,
                    amount_cents=amount_cents,
                    stripe_id=stripe_id,
                )
                await payment.insert(session=tx.session)
            else:
                await Payment.get_pymongo_collection().update_one(
                    {"_id": payment.id},
                    {"$set": {"status": PaymentStatus.SUCCEEDED.value, "stripe_id": stripe_id}},
                    session=tx.session,
                )
                payment = payment.model_copy(
                    update={"status": PaymentStatus.SUCCEEDED, "stripe_id": stripe_id}
                )
            order = await OrderReplica.get(ObjectId(order_id), session=tx.session)
            if order is not None and order.status is OrderStatus.CANCELLED:
                return payment, True, False
            tx.publish(PaymentCreated(id=str(payment.id), order_id=order_id, stripe_id=stripe_id))
            return payment, False, False

        payment, must_refund, was_refunded = await self.outbox.run(work)
        if must_refund:
            await self.refund(payment)
        return payment, must_refund or was_refunded

    async def refund(self, payment: Payment) -> None:
        if payment.refund_id is not None or payment.stripe_id is None:
            return
        refund_id = await self.stripe.refund(payment.order_id, payment.stripe_id)
        await Payment.get_pymongo_collection().update_one(
            {"_id": payment.id},
            {"$set": {"refund_id": refund_id, "refunded_at": datetime.now(UTC)}},
        )

    # -- the order replica ---------------------------------------------------------------------

    async def order_created(self, event: OrderCreated) -> Outcome:
        await OrderReplica.insert_replica(
            {
                "_id": ObjectId(event.id),
                "user_id": event.user_id,
                "status": event.status.value,
                "price": event.ticket.price,
                "version": event.version,
            }
        )
        return Outcome.ACK

    async def order_completed(self, event: OrderCompleted) -> Outcome:
        result = await OrderReplica.apply_version(
            ObjectId(event.id), event.version, {"status": OrderStatus.COMPLETE.value}
        )
        return Outcome.RETRY_LATER if result is ApplyResult.NOT_YET else Outcome.ACK

    async def order_cancelled(self, event: OrderCancelled) -> Outcome:
        result = await OrderReplica.apply_version(
            ObjectId(event.id), event.version, {"status": OrderStatus.CANCELLED.value}
        )
        if result is ApplyResult.NOT_YET:
            return Outcome.RETRY_LATER
        # Applied now or before: either way a payment that landed for it must go back. A
        # refund already made is not made again (refund_id), and Stripe keys it by order.
        payment = await Payment.find_one(Payment.order_id == event.id)
        if payment is None:
            return Outcome.ACK
        if payment.status is PaymentStatus.PENDING:
            # A charge is in flight. Its success may be recorded from a snapshot that predates
            # our write (two transactions, each reading what the other writes), so wait for
            # its outcome instead of assuming it will see the cancel. An abandoned claim is
            # settled by settle_abandoned (or the webhook), which does see it.
            if payment.created_at > datetime.now(UTC) - self.claim_timeout:
                return Outcome.RETRY_LATER
            return Outcome.ACK
        await self.refund(payment)
        return Outcome.ACK
