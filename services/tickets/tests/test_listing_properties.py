"""Property: however tickets are listed, reserved and released between page requests,
following the listing's links visits every ticket for sale throughout exactly once, each page
in the listing's order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from bson import ObjectId
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from tickets.models import Ticket
from tickets.service import TicketService
from tixcommon.events import OrderCancelled, OrderCreated, OrderStatus, TicketPrice, TicketRef
from tixtest import SignedInUser
from tixtest.histories import REAL_SERVERS

SORTS = ("newest", "startsAt", "price", "-price")
# What happens between two page requests: a new listing, or a reservation made or released.
ACTIONS = st.lists(st.sampled_from(["list", "reserve", "release"]), max_size=3)


class Market:
    """Listings and reservations made through the real service, remembering who holds what."""

    def __init__(self, http: httpx.AsyncClient, service: TicketService, seller: SignedInUser):
        self.http, self.service, self.seller = http, service, seller
        self.held: dict[str, str] = {}  # ticket -> the order holding it

    async def list(self, price: int, days: int | None) -> str:
        body: dict[str, object] = {"title": "Show", "price": price}
        if days is not None:
            body["startsAt"] = (datetime.now(UTC) + timedelta(days=days)).isoformat()
        response = await self.http.post("/api/tickets", json=body, headers=self.seller.headers)
        assert response.status_code == 201
        ticket_id: str = response.json()["id"]
        return ticket_id

    async def reserve(self, ticket_id: str) -> None:
        order_id = str(ObjectId())
        await self.service.take_seats(
            OrderCreated(
                id=order_id, version=0, status=OrderStatus.CREATED, user_id="b" * 24,
                expires_at=datetime.now(UTC) + timedelta(minutes=15),
                ticket=TicketPrice(id=ticket_id, price=10),
            )
        )  # fmt: skip
        self.held[ticket_id] = order_id

    async def release(self, ticket_id: str) -> None:
        order_id = self.held.pop(ticket_id)
        await self.service.release_for_cancelled_order(
            OrderCancelled(id=order_id, version=1, ticket=TicketRef(id=ticket_id))
        )


@REAL_SERVERS
@given(data=st.data())
async def test_following_the_links_sees_every_ticket_for_sale_throughout_exactly_once(
    tickets: tuple[FastAPI, httpx.AsyncClient], seller: SignedInUser, data: st.DataObject
) -> None:
    app, http = tickets
    await Ticket.get_pymongo_collection().delete_many({})
    market = Market(http, app.state.wiring.tickets, seller)
    listing_draw = st.tuples(st.integers(1, 5), st.none() | st.integers(1, 3))
    initial = [
        await market.list(*data.draw(listing_draw)) for _ in range(data.draw(st.integers(0, 7)))
    ]
    sort, limit = data.draw(st.sampled_from(SORTS)), data.draw(st.integers(1, 3))

    ever_for_sale, never_held = set(initial), set(initial)
    seen: list[str] = []
    next_url: str | None = f"/api/tickets?sort={sort}&limit={limit}"
    while next_url is not None:
        response = await http.get(next_url)
        assert response.status_code == 200
        page = response.json()
        assert len(page) <= limit
        seen += [ticket["id"] for ticket in page]
        assert len(seen) <= len(ever_for_sale), "a ticket was shown twice"
        next_url = response.links.get("next", {}).get("url")
        for action in data.draw(ACTIONS):
            free = sorted(set(ever_for_sale) - set(market.held))
            if action == "list":
                ticket_id = await market.list(*data.draw(listing_draw))
                ever_for_sale.add(ticket_id)
            elif action == "reserve" and free:
                ticket_id = data.draw(st.sampled_from(free))
                await market.reserve(ticket_id)
                never_held.discard(ticket_id)
            elif action == "release" and market.held:
                await market.release(data.draw(st.sampled_from(sorted(market.held))))

    assert len(seen) == len(set(seen)), "a ticket was shown twice"
    assert never_held <= set(seen), "a ticket for sale throughout was missed"
    assert set(seen) <= ever_for_sale


# Prices and starts at both ends of their ranges and in one crowded spot, so that the reads'
# intervals must cross long empty stretches and split dense ones.
PRICES = st.sampled_from([0.5, 0.51, 20, 20, 20, 20.5, 999_999.99, 1_000_000])
STARTS = st.none() | st.sampled_from([1, 1, 2, 400, 2_900_000])  # days ahead
WORDS = ("jazz", "rock", "live", "night")


@dataclass(frozen=True)
class Listed:
    id: str
    words: frozenset[str]
    price: float
    starts: datetime | None

    def found_by(self, query: Query) -> bool:
        """What the contract says `query` finds."""
        after_from = query.starts_from is None or (
            self.starts is not None and query.starts_from <= self.starts
        )
        return (
            query.words <= self.words
            and (query.min_price is None or query.min_price <= self.price)
            and (query.max_price is None or self.price <= query.max_price)
            and after_from
        )


@dataclass(frozen=True)
class Query:
    sort: str
    words: frozenset[str]
    min_price: float | None
    max_price: float | None
    starts_from: datetime | None

    def params(self) -> dict[str, str]:
        values = {
            "sort": self.sort, "q": " ".join(sorted(self.words)), "minPrice": self.min_price,
            "maxPrice": self.max_price,
            "from": self.starts_from.isoformat() if self.starts_from else None,
        }  # fmt: skip
        return {name: str(value) for name, value in values.items() if value}

    def order(self, listed: list[Listed]) -> list[str]:
        """The contract's order: newest first, soonest first (undated last), or by price, ties
        in the order of their ids."""
        newest = sorted(listed, key=lambda ticket: ticket.id, reverse=True)
        if self.sort == "startsAt":
            ordered = sorted(listed, key=lambda t: (t.starts is None, t.starts or NOW, t.id))
        elif self.sort == "price":
            ordered = sorted(listed, key=lambda ticket: (ticket.price, ticket.id))
        elif self.sort == "-price":
            ordered = sorted(listed, key=lambda ticket: (ticket.price, ticket.id), reverse=True)
        else:
            ordered = newest
        return [ticket.id for ticket in ordered]


NOW = datetime.now(UTC)
QUERIES = st.builds(
    Query,
    sort=st.sampled_from(SORTS),
    words=st.frozensets(st.sampled_from(WORDS), max_size=2),
    min_price=st.none() | PRICES,
    max_price=st.none() | PRICES,
    starts_from=st.none() | st.integers(1, 3).map(lambda days: NOW + timedelta(days=days)),
).filter(lambda q: q.min_price is None or q.max_price is None or q.min_price <= q.max_price)


@REAL_SERVERS
@given(data=st.data())
async def test_the_pages_are_exactly_the_matching_tickets_in_the_sorts_order(
    tickets: tuple[FastAPI, httpx.AsyncClient], seller: SignedInUser, data: st.DataObject
) -> None:
    _, http = tickets
    await Ticket.get_pymongo_collection().delete_many({})
    catalogue: list[Listed] = []
    for _ in range(data.draw(st.integers(0, 10))):
        words = data.draw(st.frozensets(st.sampled_from(WORDS), min_size=1))
        price, days = data.draw(PRICES), data.draw(STARTS)
        starts = None if days is None else datetime.now(UTC) + timedelta(days=days)
        body = {"title": " ".join(sorted(words)), "price": price}
        if starts is not None:
            body["startsAt"] = starts.isoformat()
        response = await http.post("/api/tickets", json=body, headers=seller.headers)
        assert response.status_code == 201, response.text
        catalogue.append(Listed(response.json()["id"], words, price, starts))
    query = data.draw(QUERIES)

    seen: list[str] = []
    params = {**query.params(), "limit": str(data.draw(st.integers(1, 4)))}
    next_url: str | None = str(httpx.URL("/api/tickets", params=params))
    while next_url is not None:
        response = await http.get(next_url)
        assert response.status_code == 200, response.text
        seen += [ticket["id"] for ticket in response.json()]
        assert len(seen) <= len(catalogue), "a ticket was shown twice"
        next_url = response.links.get("next", {}).get("url")

    assert seen == query.order([ticket for ticket in catalogue if ticket.found_by(query)])
