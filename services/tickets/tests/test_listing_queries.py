"""What a listing page costs the database: a short page (the last one, a small catalogue, a rare
word) no more queries than a full one, once the process has read the listing's end."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient

from tickets.models import listing_fields
from tixtest.metrics import metric

TICKETS = "/api/tickets"
SORTS = ("newest", "startsAt", "price", "-price")
WORDS = ("jazz", "rock", "opera", "quartet", "symphony", "live", "night", "festival")
CATALOGUE = 610
RARE = "zither"  # in 3 titles of the catalogue
MOST = 3  # queries any page may take once its query has been read before


async def seed(collection: Any, count: int, *, rare: int = 0, price: int | None = None) -> None:
    """`count` tickets for sale as the service stores them, `rare` of them with the rare word."""
    draw = random.Random(count)  # a catalogue, the same in every run
    now, tickets = datetime.now(UTC), []
    for n in range(count):
        ticket_id = ObjectId()
        marked = rare > 0 and n % (count // rare) == 0
        title = " ".join(draw.sample(WORDS, 3)) + (f" {RARE}" if marked else "")
        cents = price if price is not None else draw.randrange(1000, 20000, 50)
        starts = now + timedelta(minutes=draw.randrange(60, 60 * 24 * 180))
        tickets.append(
            {
                "_id": ticket_id, "title": title, "price_cents": cents, "user_id": "s" * 24,
                "version": 0, "quantity": 1, "held": 0, "order_id": None, "for_sale": True,
                "starts_at": starts,
                **listing_fields(ticket_id, title=title, price_cents=cents, starts_at=starts),
            }
        )  # fmt: skip
    await collection.insert_many(tickets)


@pytest.fixture(autouse=True)
def no_page_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every page read from the database: these tests count its queries, and change tickets
    behind the service's back (tickets.page_cache has tests of its own)."""
    monkeypatch.setenv("LISTING_CACHE_SECONDS", "0")


@pytest.fixture
async def catalogue(
    client: httpx.AsyncClient, mongo: AsyncMongoClient[Any], database_name: str
) -> Any:
    """The service's tickets collection, holding `CATALOGUE` tickets (3 with the rare word)."""
    collection = mongo[database_name]["tickets"]
    await seed(collection, CATALOGUE, rare=3)
    return collection


def queries_so_far() -> float:
    return metric("tixvibe_listing_page_queries_sum")


async def page(client: httpx.AsyncClient, url: str) -> tuple[list[str], str | None, float]:
    """The page's ticket ids, its next link and the database queries it took."""
    before = queries_so_far()
    response = await client.get(url)
    assert response.status_code == 200, response.text
    links = response.links.get("next", {}).get("url")
    return [ticket["id"] for ticket in response.json()], links, queries_so_far() - before


async def walk(client: httpx.AsyncClient, url: str) -> list[tuple[int, float]]:
    """Follow the links from `url`: each page's size and queries."""
    costs: list[tuple[int, float]] = []
    next_url: str | None = url
    while next_url is not None:
        ids, next_url, queries = await page(client, next_url)
        costs.append((len(ids), queries))
        assert len(costs) < 100, "the links never end"
    return costs


@pytest.mark.parametrize("sort", SORTS)
async def test_every_page_of_a_listing_read_before_takes_at_most_three_queries(
    client: httpx.AsyncClient, catalogue: Any, sort: str
) -> None:
    url = f"{TICKETS}?sort={sort}&limit=50"
    await walk(client, url)  # the first walk learns where the listing ends

    again = await walk(client, url)

    assert sum(size for size, _ in again) == CATALOGUE
    assert again[-1][0] < 50  # the last page is short
    assert max(queries for _, queries in again) <= MOST, again


@pytest.mark.parametrize("sort", SORTS)
async def test_a_rare_word_and_a_small_catalogue_are_one_query_the_second_time(
    client: httpx.AsyncClient, catalogue: Any, sort: str
) -> None:
    for url in (f"{TICKETS}?sort={sort}&q={RARE}", f"{TICKETS}?sort={sort}&limit=100&q=no+such"):
        first = await page(client, url)

        again = await page(client, url)

        assert again[0] == first[0]
        assert again[1] is None
        assert again[2] == 1


async def test_a_small_catalogue_is_one_query_a_page(
    client: httpx.AsyncClient, mongo: AsyncMongoClient[Any], database_name: str
) -> None:
    await seed(mongo[database_name]["tickets"], 100)
    await page(client, f"{TICKETS}?limit=100")

    ids, following, queries = await page(client, f"{TICKETS}?limit=100")

    assert (len(ids), following, queries) == (100, None, 1)


async def test_a_ticket_listed_past_where_the_listing_ended_is_still_found(
    client: httpx.AsyncClient, catalogue: Any
) -> None:
    url = f"{TICKETS}?sort=price&limit=20"
    await walk(client, url)
    await seed(catalogue, 1, price=19_999_900)  # dearer than every price read so far
    dearest = await catalogue.find_one({"price_cents": 19_999_900})

    shown: list[str] = []
    next_url: str | None = url
    while next_url is not None:
        ids, next_url, queries = await page(client, next_url)
        shown += ids
        assert queries <= MOST + 1  # what was remembered is one read short of the new end

    assert len(shown) == CATALOGUE + 1
    assert shown[-1] == str(dearest["_id"])
