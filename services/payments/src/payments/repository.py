"""The payments service's data: its payments (one per order, by a unique index: the claim a
request takes before charging) and its replica of orders (fed by order events under the
next-version rule)."""

from __future__ import annotations

from datetime import UTC, datetime

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from payments.models import OrderReplica, Payment, PaymentStatus
from tixcommon.db import ApplyResult
from tixcommon.events import OrderCreated, OrderStatus
from tixcommon.money import to_cents

Session = AsyncClientSession | None


class PaymentRepository:
    async def of_order(self, order_id: str, *, session: Session = None) -> Payment | None:
        return await Payment.find_one(Payment.order_id == order_id, session=session)

    async def claim(self, order_id: str, amount_cents: int) -> Payment | None:
        """Take the order's one payment slot, or None if a payment holds it already."""
        claim = Payment(order_id=order_id, status=PaymentStatus.PENDING, amount_cents=amount_cents)
        try:
            await claim.insert()
        except DuplicateKeyError:
            return None
        return claim

    async def note_intent(self, claim: Payment, intent_id: str) -> bool:
        """Remember the intent on a pending claim. False if the claim is no longer pending."""
        noted = await Payment.get_pymongo_collection().update_one(
            {"_id": claim.id, "status": PaymentStatus.PENDING.value},
            {"$set": {"stripe_id": intent_id}},
        )
        return noted.matched_count == 1

    async def release(self, claim: Payment) -> None:
        """Free the slot of a claim that charged nothing (a payment that succeeded stays)."""
        await Payment.get_pymongo_collection().delete_one(
            {"_id": claim.id, "status": PaymentStatus.PENDING.value}
        )

    async def abandoned(self, cutoff: datetime) -> list[Payment]:
        """The claims pending since before `cutoff`, oldest first."""
        return (
            await Payment.find(Payment.status == PaymentStatus.PENDING, Payment.created_at < cutoff)
            .sort("created_at")
            .to_list()
        )

    async def add_succeeded(
        self, order_id: str, amount_cents: int, stripe_id: str, *, session: Session = None
    ) -> Payment:
        """A payment confirmed outside a request (Stripe's webhook tells us of it)."""
        payment = Payment(
            order_id=order_id,
            status=PaymentStatus.SUCCEEDED,
            amount_cents=amount_cents,
            stripe_id=stripe_id,
        )
        await payment.insert(session=session)
        return payment

    async def succeeded(
        self, claim: Payment, stripe_id: str, *, session: Session = None
    ) -> Payment:
        """The claim, now a payment Stripe confirmed, as stored."""
        stored = await Payment.get_pymongo_collection().find_one_and_update(
            {"_id": claim.id},
            {"$set": {"status": PaymentStatus.SUCCEEDED.value, "stripe_id": stripe_id}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        payment: Payment = Payment.model_validate(stored)
        return payment

    async def owe_refund(self, payment: Payment, *, session: Session = None) -> None:
        """Record that the payment's money must go back, before asking Stripe for it."""
        await Payment.get_pymongo_collection().update_one(
            {"_id": payment.id, "refund_id": None},
            {"$set": {"refund_due": True}},
            session=session,
        )

    async def refunded(self, payment: Payment, refund_id: str) -> None:
        await Payment.get_pymongo_collection().update_one(
            {"_id": payment.id},
            {
                "$set": {
                    "refund_id": refund_id,
                    "refunded_at": datetime.now(UTC),
                    "refund_due": False,
                }
            },
        )

    async def refunds_owed(self) -> list[Payment]:
        """Payments whose refund was due but not made (a crash or Stripe's outage between)."""
        return await Payment.find({"refund_due": True, "refund_id": None}).to_list()


class OrderReplicaRepository:
    async def get(self, order_id: str, *, session: Session = None) -> OrderReplica | None:
        return await OrderReplica.get(ObjectId(order_id), session=session)

    async def created(self, event: OrderCreated) -> ApplyResult:
        return await OrderReplica.insert_replica(
            OrderReplica(
                id=ObjectId(event.id),
                user_id=event.user_id,
                status=event.status,
                price_cents=to_cents(event.ticket.price),
                quantity=event.quantity,
                version=event.version,
            )
        )

    async def moved_to(self, order_id: str, version: int, status: OrderStatus) -> ApplyResult:
        return await OrderReplica.apply_version(
            ObjectId(order_id), version, {"status": status.value}
        )
