from __future__ import annotations

from tixcommon.events.base import EntityId, Event, Subject


class TicketCreated(Event):
    subject = Subject.TICKET_CREATED

    id: EntityId
    version: int
    title: str
    price: float
    user_id: EntityId


class TicketUpdated(Event):
    subject = Subject.TICKET_UPDATED

    id: EntityId
    version: int
    title: str
    price: float
    user_id: EntityId
    order_id: EntityId | None = None
