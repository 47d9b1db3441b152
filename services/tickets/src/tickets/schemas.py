"""The request and response bodies of the tickets routes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel

from tickets.models import Ticket, TicketStatus, search_terms
from tixcommon.money import stored_cents, to_cents, to_dollars
from tixcommon.seats import seat_count

TITLE_MAX = 200
VENUE_MAX = 200
DESCRIPTION_MAX = 2_000
PRICE_MIN = Decimal("0.50")  # the smallest amount the payment provider charges in USD
PRICE_MAX = 1_000_000
QUANTITY_MAX = 10_000


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
    return float(number)


_AWARE_DATETIME = TypeAdapter(AwareDatetime)


def _starts_at(value: object) -> datetime:
    invalid = ValueError("Start time must be an ISO 8601 date-time with a UTC offset")
    if not isinstance(value, str | datetime):
        raise invalid  # a number would be read as seconds since 1970
    try:
        value = _AWARE_DATETIME.validate_python(value)
    except ValidationError:
        raise invalid from None
    if value <= datetime.now(UTC):
        raise ValueError("Start time must be in the future")
    # Kept in UTC to the millisecond, as MongoDB keeps it: what a POST answers is what a GET will.
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _venue(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("Venue must not be blank")
    if len(value) > VENUE_MAX:
        raise ValueError(f"Venue must be at most {VENUE_MAX} characters")
    return value


def _description(value: str) -> str:
    if len(value) > DESCRIPTION_MAX:
        raise ValueError(f"Description must be at most {DESCRIPTION_MAX} characters")
    return value


StartsAt = Annotated[datetime, BeforeValidator(_starts_at)]
Venue = Annotated[str, AfterValidator(_venue)]
Description = Annotated[str, AfterValidator(_description)]

EVENT_FIELDS = ("starts_at", "venue", "description")


class TicketIn(BaseModel):
    """A listing as a seller sends it. The event fields are optional; on an edit, a field left
    out keeps its stored value and `null` clears it (`event_changes`)."""

    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)

    title: Annotated[str, AfterValidator(_title)]
    price: Annotated[float, BeforeValidator(_price)]
    starts_at: StartsAt | None = None
    venue: Venue | None = None
    description: Description | None = None
    # Seats listed: one when a new listing leaves it out; kept as it is when an edit does.
    quantity: Annotated[int | None, seat_count(QUANTITY_MAX)] = None

    @property
    def price_cents(self) -> int:
        return to_cents(self.price)

    def event_changes(self) -> dict[str, Any]:
        """The event fields the request sent, `None` for a field to clear."""
        return {name: getattr(self, name) for name in EVENT_FIELDS if name in self.model_fields_set}


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


PriceBound = BeforeValidator(_dollars_bound)


def _moment(edge: str) -> Any:
    invalid = f"{edge} must be an ISO 8601 date-time with a UTC offset, or a date"

    def parse(value: object) -> datetime:
        """An ISO 8601 date-time with its offset, or a date (its first or last moment, UTC)."""
        text = str(value).strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(invalid) from None
        if len(text) == 10:  # a date alone
            moment = moment.replace(tzinfo=UTC)
            last = moment.replace(hour=23, minute=59, second=59, microsecond=999_999)
            return moment if edge == "from" else last
        if moment.tzinfo is None:
            raise ValueError(invalid)
        return moment.astimezone(UTC)

    return BeforeValidator(parse)


class ListingQuery(BaseModel):
    """`GET /api/tickets`'s query: what to find, in which order, and where this page starts."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    q: str | None = None
    min_price: Annotated[int | None, BeforeValidator(_dollars_bound)] = Field(
        None, alias="minPrice"
    )
    max_price: Annotated[int | None, BeforeValidator(_dollars_bound)] = Field(
        None, alias="maxPrice"
    )
    starts_from: Annotated[datetime | None, _moment("from")] = Field(None, alias="from")
    starts_to: Annotated[datetime | None, _moment("to")] = Field(None, alias="to")
    sort: ListingSort = ListingSort.NEWEST
    limit: int = Field(LIMIT_DEFAULT, ge=1, le=LIMIT_MAX)
    cursor: str | None = None

    @field_validator("max_price")
    @classmethod
    def _not_below_min(cls, value: int | None, info: ValidationInfo) -> int | None:
        low = info.data.get("min_price")
        if value is not None and low is not None and value < low:
            raise ValueError("maxPrice must be at least minPrice")
        return value

    @field_validator("starts_to")
    @classmethod
    def _not_before_from(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        low = info.data.get("starts_from")
        if value is not None and low is not None and value < low:
            raise ValueError("to must not be before from")
        return value

    @property
    def words(self) -> list[str]:
        return search_terms(self.q or "")


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
            }
            for document in documents
        ]
    )
    return _LISTING.dump_json(tickets, by_alias=True, exclude_none=True)
