from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from tixcommon.events.base import EntityId, Event, Subject

Seats = Annotated[int, Field(ge=1)]
SeatsLeft = Annotated[int, Field(ge=0)]
BuyerLimit = Annotated[int, Field(ge=1)]


class TicketCreated(Event):
    subject = Subject.TICKET_CREATED

    id: EntityId
    version: int
    title: str
    price: float
    user_id: EntityId
    starts_at: datetime | None = None  # when the event starts, if its seller said
    venue: str | None = None  # where, if its seller said: printed on the passes
    # Seats listed, and those not held by a live or complete order. Absent from producers that
    # predate seats: one seat, free unless `orderId` says otherwise.
    quantity: Seats = 1
    available: SeatsLeft | None = None
    # A scheduled sale (sold through the waiting room) and the most seats one account may hold;
    # absent when the seller set neither.
    on_sale_at: datetime | None = None
    per_buyer_limit: BuyerLimit | None = None


class TicketUpdated(Event):
    subject = Subject.TICKET_UPDATED

    id: EntityId
    version: int
    title: str
    price: float
    user_id: EntityId
    starts_at: datetime | None = None  # when the event starts, if its seller said
    venue: str | None = None  # where, if its seller said: printed on the passes
    quantity: Seats = 1
    available: SeatsLeft | None = None
    # A scheduled sale (sold through the waiting room) and the most seats one account may hold;
    # absent when the seller set neither.
    on_sale_at: datetime | None = None
    per_buyer_limit: BuyerLimit | None = None
    order_id: EntityId | None = None  # the order holding a one-seat ticket
