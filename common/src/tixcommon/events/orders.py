from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from tixcommon.events.base import EntityId, Event, Payload, Subject
from tixcommon.events.tickets import Seats


class OrderStatus(StrEnum):
    CREATED = "created"
    AWAITING_PAYMENT = "awaiting:payment"
    COMPLETE = "complete"
    CANCELLED = "cancelled"


class TicketPrice(Payload):
    id: EntityId
    price: float  # of one seat
    # The ticket's version the order was placed against: tells tickets whether the seats were
    # counted before or after its seller last lowered the quantity.
    version: int | None = None


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
    quantity: Seats = 1


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
