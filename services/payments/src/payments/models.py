from __future__ import annotations

import enum
from datetime import UTC, datetime

from beanie import Document
from pydantic import Field
from pymongo import IndexModel

from tixcommon.db import ReplicaDocument
from tixcommon.events import OrderStatus
from tixcommon.money import PricedInCents


class OrderReplica(ReplicaDocument, PricedInCents):
    """The orders service's order, as its events describe it (`price_cents` is one seat's)."""

    user_id: str
    status: OrderStatus
    quantity: int = 1

    @property
    def amount_cents(self) -> int:
        """What paying for the order charges: every seat at the price it was ordered at."""
        return self.quantity * self.price_cents

    class Settings:
        name = "orders"


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"  # claimed: a request is charging the card (stripe_id once it has one)
    SUCCEEDED = "succeeded"


class Payment(Document):
    order_id: str
    status: PaymentStatus
    amount_cents: int
    stripe_id: str | None = None
    refund_id: str | None = None
    refunded_at: datetime | None = None
    # Its order was cancelled: the money must go back. Set before the refund is asked of Stripe
    # and cleared with its record, so a refund a crash or an outage interrupted is retried.
    refund_due: bool = False
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    class Settings:
        name = "payments"
        # One payment per order, whatever races: the claim is this index.
        indexes = [
            IndexModel("order_id", unique=True, name="one_payment_per_order"),
            # Finds the few claims left pending (settle_abandoned) without a collection scan.
            IndexModel([("status", 1), ("created_at", 1)], name="by_status_and_age"),
            # Finds the few refunds still owed (refund_owed) without a collection scan.
            IndexModel([("refund_due", 1)], name="refunds_owed"),
        ]
