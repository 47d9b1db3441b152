"""Typed models for every subject of the events contract (../shared/contract/events.md)."""

from tixcommon.events.base import EntityId, Event, Subject
from tixcommon.events.expiration import ExpirationComplete
from tixcommon.events.orders import (
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    OrderStatus,
    TicketPrice,
    TicketRef,
)
from tixcommon.events.payments import PaymentCreated
from tixcommon.events.tickets import TicketCreated, TicketUpdated

EVENT_TYPES: dict[Subject, type[Event]] = {
    event.subject: event
    for event in (
        TicketCreated,
        TicketUpdated,
        OrderCreated,
        OrderCancelled,
        OrderCompleted,
        ExpirationComplete,
        PaymentCreated,
    )
}

__all__ = [
    "EVENT_TYPES",
    "EntityId",
    "Event",
    "ExpirationComplete",
    "OrderCancelled",
    "OrderCompleted",
    "OrderCreated",
    "OrderStatus",
    "PaymentCreated",
    "Subject",
    "TicketCreated",
    "TicketPrice",
    "TicketRef",
    "TicketUpdated",
]
