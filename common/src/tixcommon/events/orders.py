from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from tixcommon.events.base import EntityId, Event, Payload, Subject


class OrderStatus(StrEnum):
    CREATED = "created"
    AWAITING_PAYMENT = "awaiting:payment"
    COMPLETE = "complete"
    CANCELLED = "cancelled"


class TicketPrice(Payload):
    id: EntityId
    price: float


class TicketRef(Payload):
    id: EntityId


class OrderCreated(Event):
    subject = Subject.ORDER_CREATED

    id: EntityId
    version: int
    status: OrderStatus
    user_id: EntityId
    expires_at: datetime
    ticket: TicketPrice


class OrderCancelled(Event):
    subject = Subject.ORDER_CANCELLED

    id: EntityId
    version: int
    ticket: TicketRef


class OrderCompleted(Event):
    subject = Subject.ORDER_COMPLETED

    id: EntityId
    version: int
    ticket: TicketRef
