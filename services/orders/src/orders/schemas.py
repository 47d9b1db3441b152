"""The request and response bodies of the orders routes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_serializer,
)
from pydantic.alias_generators import to_camel

from orders.models import Order, Pass, PassStatus
from tixcommon.events import OrderStatus
from tixcommon.fields import (
    DATE_TIME_SCHEMA,
    ObjectIdStr,
    Rules,
    date_time,
    iso_utc,
    seat_count,
    text,
)
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


class PassOut(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    id: str
    seat: int
    code: str = Field(description="What the pass's QR code holds: signed, checked offline")
    status: PassStatus
    checked_in_at: datetime | None = None

    @field_serializer("checked_in_at")
    def _iso_utc(self, value: datetime | None) -> str | None:
        return None if value is None else iso_utc(value)

    @classmethod
    def of(cls, issued: Pass) -> PassOut:
        return cls(
            id=str(issued.id),
            seat=issued.seat,
            code=issued.code,
            status=issued.status,
            checked_in_at=issued.checked_in_at,
        )


class OrderOut(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    id: str
    user_id: str
    status: OrderStatus
    expires_at: datetime
    version: int
    quantity: int = 1
    ticket: TicketOut  # its price is one seat's
    passes: list[PassOut] | None = Field(
        default=None, description="A complete order's passes, one per seat"
    )

    @field_serializer("expires_at")
    def _iso_utc(self, value: datetime) -> str:
        return iso_utc(value)

    @classmethod
    def of(cls, order: Order, passes: list[Pass] | None = None) -> OrderOut:
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
            passes=(
                [PassOut.of(issued) for issued in passes or []]
                if order.status is OrderStatus.COMPLETE
                else None
            ),
        )


NONCE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _nonce(value: str | None) -> str | None:
    if value is not None and NONCE.fullmatch(value) is None:
        raise ValueError("Nonce must be 1 to 64 letters, digits, '-' or '_'")
    return value


def _scan_time(value: object) -> datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) and value.tzinfo else date_time(value)
    if moment is None:
        raise ValueError("Scan time must be an ISO 8601 date-time with a UTC offset")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("Scan time must be an ISO 8601 date-time with a UTC offset") from None


class CheckInIn(BaseModel):
    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)

    # Anything else wrong with it is the contract's `Invalid ticket code`, from its check.
    code: Annotated[str, text("code", 1000)]
    nonce: Annotated[
        str | None,
        Rules(
            AfterValidator(_nonce),
            {"type": "string", "pattern": f"^{NONCE.pattern}$", "maxLength": 64},
        ),
        Field(description="The scanner's id for this scan: sent again, it gets the first answer"),
    ] = None
    scanned_at: Annotated[
        datetime | None,
        Rules(BeforeValidator(_scan_time), DATE_TIME_SCHEMA),
        Field(description="When a scanner that was offline let the pass in"),
    ] = None
    ticket_id: Annotated[
        ObjectIdStr | None,
        Field(
            description="The listing this scanner is at the door of: a pass of the seller's "
            "other listing is then refused (`Not for this event`) and stays valid for its own"
        ),
    ] = None


class CheckedInTicket(BaseModel):
    id: str
    title: str


class CheckInOut(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    status: PassStatus
    checked_in_at: datetime
    seat: int
    ticket: CheckedInTicket

    @field_serializer("checked_in_at")
    def _iso_utc(self, value: datetime) -> str:
        return iso_utc(value)


class DoorOut(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    ticket: CheckedInTicket
    sold: int = Field(description="Seats of complete orders: the passes issued")
    checked_in: int
