from __future__ import annotations

from datetime import datetime

from tixcommon.events.base import EntityId, Event, Subject


class TicketCreated(Event):
    subject = Subject.TICKET_CREATED

    id: EntityId
    version: int
    title: str
    price: float
    user_id: EntityId
    starts_at: datetime | None = None  # when the event starts, if its seller said


class TicketUpdated(Event):
    subject = Subject.TICKET_UPDATED

    id: EntityId
    version: int
    title: str
    price: float
    user_id: EntityId
    starts_at: datetime | None = None  # when the event starts, if its seller said
    order_id: EntityId | None = None
