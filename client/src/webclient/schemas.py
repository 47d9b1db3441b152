"""What the platform's API returns, as the pages use it (the HTTP contract's bodies). Prices
are read as Decimal: the dollars the API sent, exactly, with no binary rounding on display."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class CurrentUser(ApiModel):
    id: str
    email: str


# The most seats one order may take (the API's rule, offered as the purchase form's choices).
SEATS_PER_ORDER_MAX = 10


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
    quantity: int = 1
    available: int = 1
    sold: int = 0  # seats paid for: on a seller's own listings only
    on_sale_at: datetime | None = None
    per_buyer_limit: int | None = None

    @property
    def started(self) -> bool:
        return self.starts_at is not None and self.starts_at <= datetime.now(UTC)

    @property
    def queued(self) -> bool:
        """Whether it sells through the waiting room: a ticket with an on-sale does, before
        the sale opens and after."""
        return self.on_sale_at is not None

    @property
    def many_seats(self) -> bool:
        return self.quantity > 1

    @property
    def held(self) -> int:
        """Seats in orders not yet paid for (a seller's own listings)."""
        return self.quantity - self.available - self.sold

    @property
    def seats_to_order(self) -> range:
        """The choices of the purchase form: never more than are left, than an order takes, nor
        than one buyer may have (what they already hold counts too: orders says so)."""
        most = min(self.available, SEATS_PER_ORDER_MAX, self.per_buyer_limit or SEATS_PER_ORDER_MAX)
        return range(1, most + 1)


def _local_input(moment: datetime | None) -> str:
    """A moment as the browser's date-time input shows it: in UTC, to the minute."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") if moment else ""


def _utc_instant(typed: str) -> str:
    """A date-time input's value as the API's UTC instant (as typed, when it is not one)."""
    if not typed:
        return ""
    if len(typed) == len("2030-06-01T19:30"):  # a datetime-local input leaves seconds out
        typed += ":00"
    return f"{typed}Z"


class TicketForm(BaseModel):
    """The sell and edit forms as typed. The start and on-sale times are the browser's
    date-time inputs, read as UTC (the form says so), which is how every page shows them."""

    title: str = ""
    price: str = ""
    starts_at: str = ""
    venue: str = ""
    description: str = ""
    quantity: str = "1"
    on_sale_at: str = ""
    per_buyer_limit: str = ""

    @classmethod
    def of(cls, ticket: Ticket) -> TicketForm:
        return cls(
            title=ticket.title,
            quantity=str(ticket.quantity),
            price=f"{ticket.price:.2f}",
            starts_at=_local_input(ticket.starts_at),
            venue=ticket.venue or "",
            description=ticket.description or "",
            on_sale_at=_local_input(ticket.on_sale_at),
            per_buyer_limit="" if ticket.per_buyer_limit is None else str(ticket.per_buyer_limit),
        )

    def body(self, *, stored: TicketForm | None = None) -> dict[str, str | None]:
        """The API's body: an empty optional field is left out of a new listing, and cleared
        (`null`) on an edit of the `stored` listing. An on-sale time the edit leaves as it was
        is left out (kept as stored): once the sale has opened it is in the past, which the API
        refuses to be sent, and the form shows it only to the minute."""
        clearing = stored is not None
        body: dict[str, str | None] = {"title": self.title, "price": self.price}
        if self.quantity.strip():  # left out: one seat on a new listing, unchanged on an edit
            body["quantity"] = self.quantity.strip()
        optional = [
            ("startsAt", _utc_instant(self.starts_at.strip())),
            ("venue", self.venue.strip()),
            ("description", self.description.strip()),
            ("perBuyerLimit", self.per_buyer_limit.strip()),
        ]
        on_sale_at = self.on_sale_at.strip()
        if stored is None or on_sale_at != stored.on_sale_at:
            optional.append(("onSaleAt", _utc_instant(on_sale_at)))
        for key, value in optional:
            if value:
                body[key] = value
            elif clearing:
                body[key] = None
        return body


SORTS = {
    "newest": "Newest listings",
    "startsAt": "Soonest first",
    "price": "Price: low to high",
    "-price": "Price: high to low",
}
# How many pages back Previous remembers: each is a cursor in the URL, which must stay short.
TRAIL_MAX = 20
_FORGOTTEN = "*"  # the trail's first entry when older pages were dropped from it


class CatalogueQuery(BaseModel):
    """The storefront's search form as typed (the API's names, so a result's URL reads like the
    API's), and where in the results this page is: its cursor from the API, and in `back` the
    cursors of the pages before it, for Previous (keyset cursors only lead forward)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    q: str = ""
    min_price: str = Field("", alias="minPrice")
    max_price: str = Field("", alias="maxPrice")
    starts_from: str = Field("", alias="from")
    starts_to: str = Field("", alias="to")
    sort: str = ""
    cursor: str = ""
    back: str = ""

    def filters(self) -> dict[str, str]:
        """The search, as the API's query parameters, without the empty ones."""
        values = {
            "q": self.q, "minPrice": self.min_price, "maxPrice": self.max_price,
            "from": self.starts_from, "to": self.starts_to, "sort": self.sort,
        }  # fmt: skip
        return {name: value.strip() for name, value in values.items() if value.strip()}

    @property
    def active(self) -> bool:
        """Whether anything narrows the results (a sort alone does not)."""
        return any(name != "sort" for name in self.filters())

    def api_params(self) -> dict[str, str]:
        return self.filters() | ({"cursor": self.cursor} if self.cursor else {})

    @property
    def _trail(self) -> list[str]:
        return [cursor for cursor in self.back.split(".") if cursor]

    def _url(self, cursor: str | None, trail: list[str]) -> str:
        params = self.filters() | ({"cursor": cursor} if cursor else {})
        if trail:
            params["back"] = ".".join(trail)
        return f"/?{urlencode(params)}" if params else "/"

    def first_url(self) -> str:
        return self._url(None, [])

    def next_url(self, next_cursor: str) -> str:
        trail = [*self._trail, self.cursor] if self.cursor else []
        remembered = [cursor for cursor in trail if cursor != _FORGOTTEN]
        if len(remembered) < len(trail) or len(remembered) > TRAIL_MAX:
            trail = [_FORGOTTEN, *remembered[-TRAIL_MAX:]]
        return self._url(next_cursor, trail)

    def previous_url(self) -> str | None:
        """The page before this one; None on the first page, or when it was forgotten (then
        only the first page can be offered)."""
        if not self.cursor:
            return None
        *older, previous = self._trail or [""]
        if previous == _FORGOTTEN:
            return None
        return self._url(previous or None, older if previous else [])


class OrderTicket(ApiModel):
    id: str
    title: str
    price: Decimal


class Pass(ApiModel):
    """One seat of a complete order: what its QR code holds, and whether it is in."""

    id: str
    seat: int
    code: str
    status: Literal["valid", "checked-in"]
    checked_in_at: datetime | None = None


class Order(ApiModel):
    id: str
    user_id: str
    status: Literal["created", "awaiting:payment", "complete", "cancelled"]
    expires_at: datetime
    version: int
    ticket: OrderTicket  # its price is one seat's
    quantity: int = 1
    passes: list[Pass] = []  # a complete order's, one a seat

    @property
    def total(self) -> Decimal:
        """What paying for the order charges: every seat at the price it was ordered at."""
        return self.ticket.price * self.quantity

    @property
    def live(self) -> bool:
        return self.status in ("created", "awaiting:payment")


class Place(ApiModel):
    """One buyer's place in a ticket's waiting room (the room's answer). `position` and
    `ahead` are null until the draw at `draw_at`; `admission` comes with `admitted`."""

    ticket_id: str
    status: Literal["waiting", "admitted", "expired", "sold-out"]
    position: int | None = None
    ahead: int | None = None
    estimated_wait_seconds: int = 0
    refresh_seconds: int
    draw_at: datetime | None = None
    admission: str | None = None
    admitted_until: datetime | None = None

    @property
    def drawn(self) -> bool:
        return self.position is not None


class DoorTicket(ApiModel):
    id: str
    title: str


class Door(ApiModel):
    """A seller's count at the door of a listing: passes issued (`sold`), and those in."""

    ticket: DoorTicket
    sold: int
    checked_in: int


class CheckIn(ApiModel):
    """A pass let in at the door (the check-in's answer)."""

    status: Literal["checked-in"]
    checked_in_at: datetime
    seat: int
    ticket: DoorTicket


class FieldError(BaseModel):
    message: str
    field: str | None = None
