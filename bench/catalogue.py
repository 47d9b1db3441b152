"""The catalogue's pages at 10,000 and 100,000 tickets for sale: the first page, a page from the
middle, and a two-word search, each beside a floor that runs the one indexed query holding
exactly that page with raw PyMongo (it is told where the page is; the listing must find it)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from bson import ObjectId
from pymongo import AsyncMongoClient

from bench.load import load
from bench.report import Figure, cpu_figure, rate_figure
from bench.stack import RunningService, Stack
from tickets.models import listing_fields

# Three of these in every title: each word is in a fifth of the tickets, a pair in about 3%.
WORDS = (
    "jazz", "rock", "opera", "quartet", "symphony", "live", "night", "festival", "acoustic",
    "tour", "comedy", "ballet", "indie", "folk", "blues",
)  # fmt: skip
VENUES = ("Royal Albert Hall", "Paradiso", "Fillmore", "Olympia", "Sage", "Tivoli")
SEARCH = "jazz quartet"
COUNTS = (10_000, 100_000)
PAGE = 50
RAW = "raw PyMongo: the page's one interval"


async def seed(stack: Stack, count: int) -> None:
    """`count` tickets for sale over the coming six months, as the tickets service stores them."""
    collection = AsyncMongoClient[Any](stack.mongo_url)["tickets"]["tickets"]
    await collection.delete_many({})
    draw = random.Random(count)  # noqa: S311 - a catalogue, the same in every run
    seller, now = uuid.uuid4().hex[:24], datetime.now(UTC)
    batch: list[dict[str, Any]] = []
    for n in range(count):
        ticket_id, venue = ObjectId(), draw.choice(VENUES)
        title = f"{' '.join(draw.sample(WORDS, 3))} {n}"
        cents = draw.randrange(1000, 20000, 50)
        starts = now + timedelta(minutes=draw.randrange(60, 60 * 24 * 180))
        fields = listing_fields(
            ticket_id, title=title, price_cents=cents, starts_at=starts, venue=venue
        )
        batch.append(
            {
                "_id": ticket_id, "title": title, "price_cents": cents, "user_id": seller,
                "version": 0, "quantity": 1, "held": 0, "order_id": None, "for_sale": True,
                "starts_at": starts,
                "venue": venue, **fields,
            }
        )  # fmt: skip
        if len(batch) == 5_000 or n == count - 1:
            await collection.insert_many(batch)
            batch = []
    await collection.database.client.close()


async def page_ids(client: httpx.AsyncClient, url: str) -> tuple[list[str], str | None]:
    response = await client.get(url)
    response.raise_for_status()
    return [ticket["id"] for ticket in response.json()], response.links.get("next", {}).get("url")


async def middle_page(client: httpx.AsyncClient, count: int) -> str:
    """The URL of the page of 50 halfway through the listing, as its links lead there."""
    url: str | None = "/api/tickets?limit=100"
    for _ in range(count // 200):
        _, url = await page_ids(client, url or "")
    _, url = await page_ids(client, (url or "").replace("limit=100", f"limit={PAGE}"))
    assert url is not None
    return url


async def floor_of(client: httpx.AsyncClient, url: str, words: list[str]) -> str:
    """The floor's URL for the page at `url`: the interval of ids from its first ticket to the
    one after its last (the next page's first), with the search's longest word indexed."""
    shown, following = await page_ids(client, url)
    after, _ = await page_ids(client, following) if following else ([shown[-1]], None)
    query = {"high": shown[0], "low": after[0]}
    if words:
        ordered = sorted(words, key=len, reverse=True)
        query |= {"word": ordered[0], "also": ",".join(ordered[1:])}
    return f"/tickets?{urlencode(query)}"


async def catalogue_figures(stack: Stack, floor: RunningService, seconds: float) -> list[Figure]:
    tickets = stack.ports["tickets"]
    ours_cpu = {"tickets": stack.pids["tickets"], "db": stack.database_pid}
    floor_cpu = {"floor": floor.process.pid, "db": stack.database_pid}
    figures: list[Figure] = []
    for count in COUNTS:
        await seed(stack, count)
        # The first read after seeding 100,000 tickets takes seconds (the server loads them):
        # these requests find the pages, they are not measured.
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{tickets}", timeout=60) as client:
            pages = {
                "first page": f"/api/tickets?limit={PAGE}",
                "page from the middle": await middle_page(client, count),
                f"search {SEARCH!r}": f"/api/tickets?{urlencode({'q': SEARCH, 'limit': PAGE})}",
            }
            floors = {
                name: await floor_of(client, url, SEARCH.split() if "search" in name else [])
                for name, url in pages.items()
            }
        for name, url in pages.items():
            ours = await load(tickets, url, seconds=seconds, measure=ours_cpu)
            raw = await load(floor.port, floors[name], seconds=seconds, measure=floor_cpu)
            figure = f"GET /api/tickets, {name}, {count:,} for sale"
            figures += [
                rate_figure(figure, ours, raw.rate, RAW),
                cpu_figure(figure, ours, raw, RAW),
            ]
    return figures
