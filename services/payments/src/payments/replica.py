"""Order events keep the payments service's replica of orders; a cancel refunds a payment that
came too late."""

from __future__ import annotations

from dataclasses import dataclass

from payments.claims import ClaimSettler
from payments.models import PaymentStatus
from payments.recording import PaymentRecorder
from payments.repository import OrderReplicaRepository, PaymentRepository
from tixcommon.bus import Outcome
from tixcommon.db import ApplyResult
from tixcommon.events import OrderCancelled, OrderCompleted, OrderCreated, OrderStatus


@dataclass
class OrderReplicaKeeper:
    orders: OrderReplicaRepository
    payments: PaymentRepository
    recorder: PaymentRecorder
    claims: ClaimSettler

    async def order_created(self, event: OrderCreated) -> Outcome:
        return Outcome.of(await self.orders.created(event))

    async def order_completed(self, event: OrderCompleted) -> Outcome:
        return Outcome.of(await self.orders.moved_to(event.id, event.version, OrderStatus.COMPLETE))

    async def order_cancelled(self, event: OrderCancelled) -> Outcome:
        applied = await self.orders.moved_to(event.id, event.version, OrderStatus.CANCELLED)
        if applied is ApplyResult.NOT_YET:
            return Outcome.RETRY_LATER
        # Applied now or before: either way a payment that landed for it must go back. A
        # refund already made is not made again (refund_id), and Stripe keys it by order.
        payment = await self.payments.of_order(event.id)
        if payment is None:
            return Outcome.ACK
        if payment.status is PaymentStatus.PENDING:
            # A charge is in flight. Its success may be recorded from a snapshot that predates
            # our write (two transactions, each reading what the other writes), so wait for
            # its outcome instead of assuming it will see the cancel. An abandoned claim is
            # settled by settle_abandoned (or the webhook), which does see it.
            if payment.created_at > self.claims.abandoned_before():
                return Outcome.RETRY_LATER
            return Outcome.ACK
        await self.recorder.refund(payment)
        return Outcome.ACK
