"""The catalogue's pages at 100, 10,000 and 100,000 tickets for sale: at 100 the whole listing in
one page and in two (the second a last page), at 10,000 and 100,000 the first page, a page from
the middle and a two-word search, and at 100,000 a word only five tickets hold. Each is beside a
floor that runs the one indexed query holding exactly that page with raw PyMongo (it is told
where the page is; the listing must find it), and each counts the database queries a request
takes, from the server's own counters."""

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
RARE = "zither"  # in five titles of the 100,000
RARE_COUNT = 5
COUNTS = (100, 10_000, 100_000)
PAGE = 50
SAMPLES = 50  # sequential requests whose database queries are counted
RAW = "raw PyMongo: the page's one interval"


async def seed(stack: Stack, count: int, *, rare: int = 0) -> None:
    """`count` tickets for sale over the coming six months, as the tickets service stores them,
    `rare` of them (spread through the listing) with the word `RARE` in their title."""
    collection = AsyncMongoClient[Any](stack.mongo_url)["tickets"]["tickets"]
    await collection.delete_many({})
    draw = random.Random(count)  # noqa: S311 - a catalogue, the same in every run
    seller, now = uuid.uuid4().hex[:24], datetime.now(UTC)
    batch: list[dict[str, Any]] = []
    for n in range(count):
        ticket_id, venue = ObjectId(), draw.choice(VENUES)
        title = f"{' '.join(draw.sample(WORDS, 3))} {n}"
        if rare and n % (count // rare) == 0:
            title += f" {RARE}"
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


async def floor_of(client: httpx.AsyncClient, url: str, words: list[str], limit: int) -> str:
    """The floor's URL for the page at `url`: the interval of ids from its first ticket to the
    one after its last (the next page's first), with the search's longest word indexed."""
    shown, following = await page_ids(client, url)
    after, _ = await page_ids(client, following) if following else ([shown[-1]], None)
    query = {"high": shown[0], "low": after[0], "limit": str(limit)}
    if words:
        ordered = sorted(words, key=len, reverse=True)
        query |= {"word": ordered[0], "also": ",".join(ordered[1:])}
    return f"/tickets?{urlencode(query)}"


async def queries_per_request(stack: Stack, port: int, url: str) -> float:
    """The database queries (finds and getMores, by the server's counters) one request takes,
    over `SAMPLES` requests one after another."""
    mongo = AsyncMongoClient[Any](stack.mongo_url)

    async def so_far() -> int:
        counters = (await mongo.admin.command("serverStatus"))["opcounters"]
        return int(counters["query"]) + int(counters["getmore"])

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        before = await so_far()
        for _ in range(SAMPLES):
            (await client.get(url)).raise_for_status()
        spent = await so_far() - before
    await mongo.close()
    return max(spent, 0) / SAMPLES


def pages_of(count: int) -> dict[str, tuple[str, list[str], int]]:
    """What is measured at `count` tickets: name -> (URL or "next of <name>", words, limit)."""
    first: tuple[str, list[str], int] = (f"/api/tickets?limit={PAGE}", [], PAGE)
    if count <= 100:
        return {
            f"the whole listing, limit={count}": (f"/api/tickets?limit={count}", [], count),
            "first page": first,
            "last page": ("next of first page", [], PAGE),
        }
    pages = {
        "first page": first,
        "page from the middle": ("middle", [], PAGE),
        f"search {SEARCH!r}": (
            f"/api/tickets?{urlencode({'q': SEARCH, 'limit': PAGE})}",
            SEARCH.split(),
            PAGE,
        ),
    }
    if count >= 100_000:
        pages[f"search {RARE!r} ({RARE_COUNT} for sale)"] = (f"/api/tickets?q={RARE}", [RARE], PAGE)
    return pages


async def catalogue_figures(stack: Stack, floor: RunningService, seconds: float) -> list[Figure]:
    """The pages read from the database (tickets runs with LISTING_CACHE_SECONDS=0)."""
    tickets = stack.ports["tickets"]
    figures: list[Figure] = []
    for count in COUNTS:
        await seed(stack, count, rare=RARE_COUNT if count >= 100_000 else 0)
        # The first read after seeding 100,000 tickets takes seconds (the server loads them):
        # these requests find the pages, they are not measured.
        pages: dict[str, str] = {}
        floors: dict[str, str] = {}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{tickets}", timeout=60) as client:
            for name, (url, words, limit) in pages_of(count).items():
                if url == "middle":
                    url = await middle_page(client, count)
                elif url.startswith("next of "):
                    _, following = await page_ids(client, pages[url.removeprefix("next of ")])
                    assert following is not None
                    url = following
                pages[name] = url
                floors[name] = await floor_of(client, url, words, limit)
        for name, url in pages.items():
            figure = f"GET /api/tickets, {name}, {count:,} for sale"
            figures += await page_figures(stack, floor, figure, url, floors[name], seconds)
    return figures


async def page_figures(
    stack: Stack, floor: RunningService, figure: str, url: str, floor_url: str, seconds: float
) -> list[Figure]:
    """One page's rate, CPU and database queries per request, each beside the floor's."""
    tickets = stack.ports["tickets"]
    ours_queries = await queries_per_request(stack, tickets, url)
    floor_queries = await queries_per_request(stack, floor.port, floor_url)
    ours_cpu = {"tickets": stack.pids["tickets"], "db": stack.database_pid}
    floor_cpu = {"floor": floor.process.pid, "db": stack.database_pid}
    ours = await load(tickets, url, seconds=seconds, measure=ours_cpu)
    raw = await load(floor.port, floor_url, seconds=seconds, measure=floor_cpu)
    return [
        rate_figure(figure, ours, raw.rate, RAW),
        cpu_figure(figure, ours, raw, RAW),
        Figure(f"{figure}, database queries", ours_queries, "a request", floor_queries, RAW),
    ]


async def served_figures(stack: Stack, floor: RunningService, seconds: float) -> list[Figure]:
    """The pages of 100 tickets for sale as visitors get them, kept for a second between
    changes (tickets.page_cache, on by default), beside the same floor: one read per request."""
    tickets = stack.ports["tickets"]
    await seed(stack, 100)
    figures: list[Figure] = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{tickets}", timeout=60) as client:
        pages = {
            "the whole listing, limit=100": ("/api/tickets?limit=100", 100),
            "first page": (f"/api/tickets?limit={PAGE}", PAGE),
        }
        floors = {name: await floor_of(client, url, [], n) for name, (url, n) in pages.items()}
    for name, (url, _) in pages.items():
        figure = f"GET /api/tickets, {name}, 100 for sale, as kept between changes"
        figures += await page_figures(stack, floor, figure, url, floors[name], seconds)
    return figures
