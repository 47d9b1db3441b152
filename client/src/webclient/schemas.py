"""What the platform's API returns, as the pages use it (the HTTP contract's bodies). Prices
are read as Decimal: the dollars the API sent, exactly, with no binary rounding on display."""

from __future__ import annotations

from datetime import UTC, datetime
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
    starts_at: datetime | None = None
    venue: str | None = None
    description: str | None = None

    @property
    def started(self) -> bool:
        return self.starts_at is not None and self.starts_at <= datetime.now(UTC)


class TicketForm(BaseModel):
    """The sell and edit forms as typed. The start time is the browser's date-time input,
    read as UTC (the form says so), which is how every page shows it."""

    title: str = ""
    price: str = ""
    starts_at: str = ""
    venue: str = ""
    description: str = ""

    @classmethod
    def of(cls, ticket: Ticket) -> TicketForm:
        return cls(
            title=ticket.title,
            price=f"{ticket.price:.2f}",
            starts_at=ticket.starts_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
            if ticket.starts_at
            else "",
            venue=ticket.venue or "",
            description=ticket.description or "",
        )

    def body(self, *, clearing: bool) -> dict[str, str | None]:
        """The API's body: an empty event field is left out of a new listing, and cleared
        (`null`) on an edit."""
        body: dict[str, str | None] = {"title": self.title, "price": self.price}
        starts_at = self.starts_at.strip()
        for key, value in (
            ("startsAt", f"{starts_at}Z" if starts_at else ""),
            ("venue", self.venue.strip()),
            ("description", self.description.strip()),
        ):
            if value:
                body[key] = value
            elif clearing:
                body[key] = None
        return body


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
