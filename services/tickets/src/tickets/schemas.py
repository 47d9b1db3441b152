"""The request and response bodies of the tickets routes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic.alias_generators import to_camel

from tickets.models import Ticket, TicketStatus, search_terms
from tixcommon.fields import (
    DATE_TIME_SCHEMA,
    Rules,
    date,
    date_time,
    seat_count,
    text,
    to_milliseconds,
    whole_number,
)
from tixcommon.money import stored_cents, to_cents, to_dollars
from tixcommon.pages import CURSOR_PATTERN

TITLE_MAX = 200
VENUE_MAX = 200
DESCRIPTION_MAX = 2_000
PRICE_MIN = Decimal("0.50")  # the smallest amount the payment provider charges in USD
PRICE_MAX = 1_000_000
QUANTITY_MAX = 10_000
STARTS_IN_PAST = "Start time must be in the future"
STARTS_TOO_LATE = "Start time must be before the year 10000 in UTC"
ON_SALE_IN_PAST = "On-sale time must be in the future"
ON_SALE_TOO_LATE = "On-sale time must be before the year 10000 in UTC"
ON_SALE_AFTER_START = "On-sale time must be before the start time"
PER_BUYER_LIMIT_MAX = 10
PER_BUYER_LIMIT_INVALID = f"perBuyerLimit must be a whole number from 1 to {PER_BUYER_LIMIT_MAX}"
MAX_BELOW_MIN = "maxPrice must be at least minPrice"
TO_BEFORE_FROM = "to must not be before from"
# A price sent as a string: dollars, optionally with cents, from PRICE_MIN to PRICE_MAX.
PRICE_TEXT = r"^\s*(?:0\.[5-9][0-9]?|[1-9][0-9]{0,5}(?:\.[0-9]{1,2})?|1000000(?:\.0{1,2})?)\s*$"
PRICE_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": float(PRICE_MIN), "maximum": PRICE_MAX, "multipleOf": 0.01},
        {"type": "string", "pattern": PRICE_TEXT},
    ],
    "description": "In dollars, in whole cents; a numeric string is accepted too",
    "examples": [12.5, "12.50"],
}


def _price(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("Price must be a number")
    try:
        # A float by its shortest repr, what the JSON said (0.1, not its binary value).
        number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        raise ValueError("Price must be a number") from None
    if not number.is_finite() or number <= 0:
        raise ValueError("Price must be greater than 0")
    # The bound first: quantizing a number beyond Decimal's precision is an error of its own.
    if number > PRICE_MAX:
        raise ValueError(f"Price must be at most {PRICE_MAX}")
    if number != number.quantize(Decimal("0.01")):
        raise ValueError("Price must be in whole cents")
    if number < PRICE_MIN:
        raise ValueError(f"Price must be at least {PRICE_MIN}")
    if isinstance(value, str) and re.fullmatch(PRICE_TEXT, value) is None:
        raise ValueError("Price must be written in dollars and cents, like 12.50")
    return float(number)


def _future_moment(label: str, in_past: str, too_late: str) -> Any:
    """A date-time with its offset, in the future, kept in UTC to the millisecond as MongoDB
    keeps it (so what a POST answers is what a GET will): the start, and the on-sale."""

    def parse(value: object) -> datetime:
        moment = value if isinstance(value, datetime) and value.tzinfo else date_time(value)
        if moment is None:
            raise ValueError(f"{label} must be an ISO 8601 date-time with a UTC offset")
        if moment <= datetime.now(UTC):
            raise ValueError(in_past)
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:
            raise ValueError(too_late) from None
        return to_milliseconds(moment)

    return Rules(BeforeValidator(parse), DATE_TIME_SCHEMA)


StartsAt = Annotated[
    datetime,
    _future_moment("Start time", STARTS_IN_PAST, STARTS_TOO_LATE),
    Field(description="When the event starts: in the future"),
]
OnSaleAt = Annotated[
    datetime,
    _future_moment("On-sale time", ON_SALE_IN_PAST, ON_SALE_TOO_LATE),
    Field(
        description="When the sale opens, through the waiting room: in the future, and before "
        "`startsAt` when both are set"
    ),
]
PerBuyerLimit = Annotated[
    int,
    whole_number(PER_BUYER_LIMIT_INVALID, 1, PER_BUYER_LIMIT_MAX),
    Field(description="The most seats one account may hold or have bought of this listing"),
]
Venue = Annotated[str, text("Venue", VENUE_MAX, when_blank="Venue must not be blank")]
Description = Annotated[str, text("Description", DESCRIPTION_MAX, blank=True)]

# The optional fields a seller may set, leave as they are (left out) or clear (`null`).
OPTIONAL_FIELDS = ("starts_at", "venue", "description", "on_sale_at", "per_buyer_limit")


class TicketIn(BaseModel):
    """A listing as a seller sends it. The event fields and the on-sale's are optional; on an
    edit, a field left out keeps its stored value and `null` clears it (`optional_changes`)."""

    model_config = ConfigDict(
        extra="ignore",
        alias_generator=to_camel,
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "title": "The Mountain Goats",
                    "price": 42.5,
                    "quantity": 200,
                    "startsAt": "2030-06-01T19:30:00Z",
                    "venue": "Union Transfer, Philadelphia",
                    "onSaleAt": "2030-03-01T10:00:00Z",
                    "perBuyerLimit": 4,
                }
            ]
        },
    )

    title: Annotated[str, text("Title", TITLE_MAX)]
    price: Annotated[float, BeforeValidator(_price), WithJsonSchema(PRICE_SCHEMA)]
    starts_at: StartsAt | None = None
    venue: Venue | None = None
    description: Description | None = None
    # Seats listed: one when a new listing leaves it out; kept as it is when an edit does.
    quantity: Annotated[int | None, seat_count(QUANTITY_MAX)] = None
    on_sale_at: OnSaleAt | None = None
    per_buyer_limit: PerBuyerLimit | None = None

    @property
    def price_cents(self) -> int:
        return to_cents(self.price)

    def optional_changes(self) -> dict[str, Any]:
        """The optional fields the request sent, `None` for a field to clear."""
        return {
            name: getattr(self, name) for name in OPTIONAL_FIELDS if name in self.model_fields_set
        }


LIMIT_DEFAULT, LIMIT_MAX = 50, 100


class ListingSort(StrEnum):
    NEWEST = "newest"
    STARTS_AT = "startsAt"
    PRICE = "price"
    PRICE_DESCENDING = "-price"


_PARAMETERS = {
    "min_price": "minPrice",
    "max_price": "maxPrice",
    "starts_from": "from",
    "starts_to": "to",
}


def _dollars_bound(value: object, info: ValidationInfo) -> int:
    """A price bound in dollars, as whole cents (a bound may be any amount: 10.5 or 0)."""
    invalid = ValueError(
        f"{_PARAMETERS[str(info.field_name)]} must be a number of dollars, 0 or more"
    )
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise invalid from None
    if not number.is_finite() or number < 0:
        raise invalid
    return to_cents(min(number, Decimal(PRICE_MAX)))


PriceBound = Annotated[
    int | None, BeforeValidator(_dollars_bound), WithJsonSchema({"type": "number", "minimum": 0})
]


_MOMENT_SCHEMA = {"anyOf": [DATE_TIME_SCHEMA, {"type": "string", "format": "date"}]}


def _moment(edge: str) -> Any:
    invalid = f"{edge} must be an ISO 8601 date-time with a UTC offset, or a date"

    def parse(value: object) -> datetime:
        """An RFC 3339 date-time, or a date (its first or last moment, UTC)."""
        day = date(value)
        if day is not None:
            moment: datetime | None = datetime.combine(
                day, time.min if edge == "from" else time.max, tzinfo=UTC
            )
        else:
            moment = date_time(value)
        if moment is None:
            raise ValueError(invalid)
        try:
            return moment.astimezone(UTC)
        except OverflowError:  # beyond year 1 or 9999 in UTC: before or after anything listed
            return (
                datetime.min.replace(tzinfo=UTC)
                if edge == "from"
                else datetime.max.replace(tzinfo=UTC)
            )

    return Rules(BeforeValidator(parse), _MOMENT_SCHEMA)


class ListingQuery(BaseModel):
    """`GET /api/tickets`'s query: what to find, in which order, and where this page starts."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    q: str | None = None
    min_price: PriceBound = Field(None, alias="minPrice", description="In dollars, inclusive")
    max_price: PriceBound = Field(None, alias="maxPrice", description="In dollars, inclusive")
    starts_from: Annotated[datetime | None, _moment("from")] = Field(None, alias="from")
    starts_to: Annotated[datetime | None, _moment("to")] = Field(None, alias="to")
    sort: ListingSort = ListingSort.NEWEST
    limit: int = Field(LIMIT_DEFAULT, ge=1, le=LIMIT_MAX)
    cursor: Annotated[
        str | None,
        WithJsonSchema({"type": "string", "pattern": CURSOR_PATTERN}),
        Field(description="Where the page starts: only as the previous page's Link gives it"),
    ] = None

    @field_validator("max_price")
    @classmethod
    def _not_below_min(cls, value: int | None, info: ValidationInfo) -> int | None:
        low = info.data.get("min_price")
        if value is not None and low is not None and value < low:
            raise ValueError(MAX_BELOW_MIN)
        return value

    @field_validator("starts_to")
    @classmethod
    def _not_before_from(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        low = info.data.get("starts_from")
        if value is not None and low is not None and value < low:
            raise ValueError(TO_BEFORE_FROM)
        return value

    @property
    def words(self) -> list[str]:
        return search_terms(self.q or "")

    @property
    def page_key(self) -> tuple[Any, ...]:
        """What the page answered depends on: the words rather than how `q` spelled them."""
        return (
            self.sort, tuple(self.words), self.min_price, self.max_price,
            self.starts_from, self.starts_to, self.limit, self.cursor,
        )  # fmt: skip


class TicketOut(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    id: str
    title: str
    price: float
    user_id: str
    version: int
    quantity: int = 1
    available: int = 1
    order_id: str | None = None
    status: TicketStatus = TicketStatus.AVAILABLE
    starts_at: datetime | None = None
    venue: str | None = None
    description: str | None = None
    on_sale_at: datetime | None = None
    per_buyer_limit: int | None = None

    @classmethod
    def of(cls, ticket: Ticket, sold: int = 0) -> TicketOut:
        """The ticket; `sold`, its seats of complete orders, tells sold out from reserved."""
        return cls(
            id=str(ticket.id),
            title=ticket.title,
            price=to_dollars(ticket.price_cents),
            user_id=ticket.user_id,
            version=ticket.version,
            quantity=ticket.quantity,
            available=ticket.available,
            order_id=ticket.order_id,
            starts_at=ticket.starts_at,
            venue=ticket.venue,
            description=ticket.description,
            on_sale_at=ticket.on_sale_at,
            per_buyer_limit=ticket.per_buyer_limit,
            status=seller_status(ticket, sold),
        )


class SellerTicketOut(TicketOut):
    """A listing as its seller sees it: also how many of its seats are paid for."""

    sold: int = 0

    @classmethod
    def of(cls, ticket: Ticket, sold: int = 0) -> SellerTicketOut:
        return cls(**dict(TicketOut.of(ticket, sold)), sold=sold)


def seller_status(ticket: Ticket, sold: int) -> TicketStatus:
    """Available while a seat is left; then sold once every seat is paid for, else reserved."""
    if ticket.available > 0:
        return TicketStatus.AVAILABLE
    return TicketStatus.SOLD if sold == ticket.quantity else TicketStatus.RESERVED


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
                "quantity": document.get("quantity", 1),
                "available": document.get("quantity", 1) - document.get("held", 0),
                "order_id": document.get("order_id"),
                "starts_at": document.get("starts_at"),
                "venue": document.get("venue"),
                "description": document.get("description"),
                "on_sale_at": document.get("on_sale_at"),
                "per_buyer_limit": document.get("per_buyer_limit"),
            }
            for document in documents
        ]
    )
    return _LISTING.dump_json(tickets, by_alias=True, exclude_none=True)
