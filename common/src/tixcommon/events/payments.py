from __future__ import annotations

from tixcommon.events.base import EntityId, Event, Subject


class PaymentCreated(Event):
    subject = Subject.PAYMENT_CREATED

    id: EntityId
    order_id: EntityId
    stripe_id: str
