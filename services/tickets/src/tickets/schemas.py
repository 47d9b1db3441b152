"""The request and response bodies of the tickets routes."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, TypeAdapter
from pydantic.alias_generators import to_camel

from tickets.models import Ticket, TicketStatus
from tixcommon.money import stored_cents, to_cents, to_dollars

TITLE_MAX = 200
PRICE_MAX = 1_000_000


def _title(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("Title is required")
    if len(value) > TITLE_MAX:
        raise ValueError(f"Title must be at most {TITLE_MAX} characters")
    return value


def _price(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("Price must be a number")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except ValueError:
        raise ValueError("Price must be a number") from None
    if not math.isfinite(number) or number <= 0:
        raise ValueError("Price must be greater than 0")
    if number > PRICE_MAX:
        raise ValueError(f"Price must be at most {PRICE_MAX}")
    # Prices are money: kept in whole cents.
    return round(number, 2)


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: Annotated[str, AfterValidator(_title)]
    price: Annotated[float, BeforeValidator(_price)]

    @property
    def price_cents(self) -> int:
        return to_cents(self.price)


class TicketOut(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    id: str
    title: str
    price: float
    user_id: str
    version: int
    order_id: str | None = None
    status: TicketStatus = TicketStatus.AVAILABLE

    @classmethod
    def of(cls, ticket: Ticket, status: TicketStatus | None = None) -> TicketOut:
        return cls(
            id=str(ticket.id),
            title=ticket.title,
            price=to_dollars(ticket.price_cents),
            user_id=ticket.user_id,
            version=ticket.version,
            order_id=ticket.order_id,
            status=status
            or (TicketStatus.AVAILABLE if ticket.order_id is None else TicketStatus.RESERVED),
        )


_LISTING = TypeAdapter(list[TicketOut])


def listing_json(documents: list[dict[str, Any]]) -> bytes:
    """The listing's JSON from the stored documents in one validation and one serialisation,
    both inside pydantic-core: no document model per ticket first, and no second validation of
    the response by FastAPI (it halved GET /api/tickets at 1000 tickets; docs/benchmarks.md)."""
    tickets = _LISTING.validate_python(
        [
            {
                "id": str(document["_id"]),
                "title": document["title"],
                "price": to_dollars(stored_cents(document)),
                "user_id": document["user_id"],
                "version": document["version"],
                "order_id": document.get("order_id"),
            }
            for document in documents
        ]
    )
    return _LISTING.dump_json(tickets, by_alias=True, exclude_none=True)
