"""Paying for an order: never twice, nothing stored when the card is declined, and refunded
when the order was cancelled before the payment landed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from payments.models import OrderReplica, Payment, PaymentStatus
from payments.settings import PaymentsSettings
from payments.stripe_gateway import StripeGateway
from tixcommon.auth import UserClaims
from tixcommon.bus import Outbox, Outcome, Transaction
from tixcommon.context import ServiceContext
from tixcommon.db import ApplyResult
from tixcommon.errors import AppError, BadRequest, NotAuthorized, NotFound
from tixcommon.events import (
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    OrderStatus,
    PaymentCreated,
)

CANCELLED = "Cannot pay for a cancelled order"
ALREADY_PAID = "Order is already paid"
IN_PROGRESS = "A payment for this order is already in progress"
REFUNDED = "The order was cancelled while you paid; your payment has been refunded"


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
        try:
            stripe_id = await self.stripe.charge(str(order_id), claim.amount_cents, payment_method)
        except AppError:
            # Declined or unreachable: nothing was charged, so nothing is kept.
            await Payment.get_pymongo_collection().delete_one(
                {"_id": claim.id, "status": PaymentStatus.PENDING.value}
            )
            raise
        payment, refunded = await self.record_success(str(order_id), stripe_id, claim.amount_cents)
        if refunded:
            raise BadRequest(REFUNDED)
        return payment

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
            # Abandoned by a request that crashed mid-charge: charging again is safe, Stripe
            # answers a repeated idempotency key with the original result.
            await Payment.get_pymongo_collection().delete_one(
                {"_id": existing.id, "status": PaymentStatus.PENDING.value}
            )
        raise BadRequest(IN_PROGRESS)

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
            # settled by the webhook, which does see it.
            if payment.created_at > datetime.now(UTC) - self.claim_timeout:
                return Outcome.RETRY_LATER
            return Outcome.ACK
        await self.refund(payment)
        return Outcome.ACK
