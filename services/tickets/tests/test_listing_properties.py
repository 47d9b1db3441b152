"""Property: however tickets are listed, reserved and released between page requests,
following the listing's links visits every ticket for sale throughout exactly once, each page
in the listing's order."""

from __future__ import annotations

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
        await self.service.reserve_for_order(
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
