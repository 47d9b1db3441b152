"""What the platform's API returns, as the pages use it (the HTTP contract's bodies). Prices
are read as Decimal: the dollars the API sent, exactly, with no binary rounding on display."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class CurrentUser(ApiModel):
    id: str
    email: str


class Ticket(ApiModel):
    id: str
    title: str
    price: Decimal
    user_id: str
    version: int
    order_id: str | None = None
    status: Literal["available", "reserved", "sold"] = "available"


class OrderTicket(ApiModel):
    id: str
    title: str
    price: Decimal


class Order(ApiModel):
    id: str
    user_id: str
    status: Literal["created", "awaiting:payment", "complete", "cancelled"]
    expires_at: datetime
    version: int
    ticket: OrderTicket

    @property
    def live(self) -> bool:
        return self.status in ("created", "awaiting:payment")


class FieldError(BaseModel):
    message: str
    field: str | None = None
