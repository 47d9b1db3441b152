"""Recording a charge Stripe confirmed, once, with its `payment.created` event; and refunding
one whose order was cancelled before the payment landed."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from payments.metrics import PAYMENTS
from payments.models import Payment, PaymentStatus
from payments.repository import OrderReplicaRepository, PaymentRepository
from payments.stripe_gateway import StripeGateway
from tixcommon.bus import Outbox, Transaction
from tixcommon.events import OrderStatus, PaymentCreated

logger = logging.getLogger(__name__)


class Recorded(enum.Enum):
    PAID = "paid"  # the order is paid for: payment.created is on its way
    REFUNDED = "refunded"  # the order was cancelled meanwhile: the money went back


@dataclass(frozen=True)
class Recording:
    payment: Payment
    result: Recorded


class _Stored(enum.Enum):
    ANNOUNCED = "announced"
    TO_REFUND = "to_refund"
    BEFORE = "before"


@dataclass
class PaymentRecorder:
    outbox: Outbox
    stripe: StripeGateway
    payments: PaymentRepository
    orders: OrderReplicaRepository

    async def record_success(self, order_id: str, stripe_id: str, amount_cents: int) -> Recording:
        """Store a payment Stripe confirmed, with its `payment.created` event, once; if the
        order was cancelled meanwhile, refund it instead."""

        async def work(tx: Transaction) -> tuple[Payment, _Stored]:
            payment = await self.payments.of_order(order_id, session=tx.session)
            if payment is not None and payment.status is PaymentStatus.SUCCEEDED:
                return payment, _Stored.BEFORE
            if payment is None:  # confirmed outside a request (the webhook tells us)
                payment = await self.payments.add_succeeded(
                    order_id, amount_cents, stripe_id, session=tx.session
                )
            else:
                payment = await self.payments.succeeded(payment, stripe_id, session=tx.session)
            order = await self.orders.get(order_id, session=tx.session)
            if order is not None and order.status is OrderStatus.CANCELLED:
                await self.payments.owe_refund(payment, session=tx.session)
                return payment, _Stored.TO_REFUND
            tx.publish(PaymentCreated(id=str(payment.id), order_id=order_id, stripe_id=stripe_id))
            return payment, _Stored.ANNOUNCED

        payment, stored = await self.outbox.run(work)
        if stored is _Stored.TO_REFUND:
            await self.refund(payment)
        refunded = stored is _Stored.TO_REFUND or (
            stored is _Stored.BEFORE and payment.refund_id is not None
        )
        return Recording(payment, Recorded.REFUNDED if refunded else Recorded.PAID)

    async def refund(self, payment: Payment) -> None:
        """Give a payment's money back, once (Stripe keys the refund by order, too); owed
        until Stripe has made it, so `refund_owed` finishes what a crash or an outage cut."""
        if payment.refund_id is not None or payment.stripe_id is None:
            return
        await self.payments.owe_refund(payment)
        refund_id = await self.stripe.refund(payment.order_id, payment.stripe_id)
        await self.payments.refunded(payment, refund_id)
        PAYMENTS.labels("refunded").inc()

    async def refund_owed(self) -> int:
        """Make every refund that was due and not made. Runs every few seconds in every
        replica; Stripe keys a refund by order, so replicas racing on one refund it once."""
        owed = await self.payments.refunds_owed()
        for payment in owed:
            await self.refund(payment)
        if owed:
            logger.warning("made refunds that were owed", extra={"count": len(owed)})
        return len(owed)
