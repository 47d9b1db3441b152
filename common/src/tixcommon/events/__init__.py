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
from tixcommon.events.users import RevocationReason, UserSessionsRevoked

__all__ = [
    "EntityId",
    "Event",
    "ExpirationComplete",
    "OrderCancelled",
    "OrderCompleted",
    "OrderCreated",
    "OrderStatus",
    "PaymentCreated",
    "RevocationReason",
    "Subject",
    "TicketCreated",
    "TicketPrice",
    "TicketRef",
    "TicketUpdated",
    "UserSessionsRevoked",
]
