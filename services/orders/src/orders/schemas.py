"""The request and response bodies of the orders routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, field_serializer
from pydantic.alias_generators import to_camel

from orders.models import Order
from tixcommon.events import OrderStatus
from tixcommon.fields import ObjectIdStr, seat_count
from tixcommon.money import to_dollars

SEATS_PER_ORDER_MAX = 10


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)

    ticket_id: ObjectIdStr
    quantity: Annotated[int, seat_count(SEATS_PER_ORDER_MAX)] = 1


class TicketOut(BaseModel):
    id: str
    title: str
    price: float


class OrderOut(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    id: str
    user_id: str
    status: OrderStatus
    expires_at: datetime
    version: int
    quantity: int = 1
    ticket: TicketOut  # its price is one seat's

    @field_serializer("expires_at")
    def _iso_utc(self, value: datetime) -> str:
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    @classmethod
    def of(cls, order: Order) -> OrderOut:
        return cls(
            id=str(order.id),
            user_id=order.user_id,
            status=order.status,
            expires_at=order.expires_at,
            version=order.version,
            quantity=order.quantity,
            ticket=TicketOut(
                id=order.ticket.id,
                title=order.ticket.title,
                price=to_dollars(order.ticket.price_cents),
            ),
        )
