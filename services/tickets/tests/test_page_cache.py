"""The listing's pages kept for a moment (tickets.page_cache): a page read once answers the
next visitors without the database, and never shows a ticket as it was before a change that
this replica made or heard of."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from tickets.app import create_app
from tickets.models import Ticket
from tickets.page_cache import PageCache
from tickets.service import ticket_updated
from tickets.settings import TicketsSettings
from tixcommon.bus import EventBus, Publisher
from tixcommon.settings import load_settings
from tixtest import SignedInUser, serve_app, wait_until
from tixtest.metrics import metric

TICKETS = "/api/tickets"


def queries_so_far() -> float:
    return metric("tixvibe_listing_page_queries_sum")


async def titles(client: httpx.AsyncClient, url: str = TICKETS) -> list[str]:
    response = await client.get(url)
    assert response.status_code == 200, response.text
    return [ticket["title"] for ticket in response.json()]


async def list_ticket(client: httpx.AsyncClient, seller: SignedInUser, title: str) -> str:
    response = await client.post(
        TICKETS, json={"title": title, "price": 10}, headers=seller.headers
    )
    assert response.status_code == 201, response.text
    ticket_id: str = response.json()["id"]
    return ticket_id


async def answered_as_kept(client: httpx.AsyncClient, url: str = TICKETS) -> httpx.Response:
    """Once the events of what was listed have gone by (each one heard drops every page), the
    page as kept, answered without a database query."""

    async def without_a_query() -> httpx.Response | None:
        before = queries_so_far()
        again = await client.get(url)
        return again if queries_so_far() == before else None

    response: httpx.Response = await wait_until(without_a_query, message="a page answered as kept")
    return response


async def test_a_page_read_once_answers_again_without_the_database(
    client: httpx.AsyncClient, seller: SignedInUser
) -> None:
    await list_ticket(client, seller, "First")
    await list_ticket(client, seller, "Second")
    first = await client.get(f"{TICKETS}?limit=1")

    again = await answered_as_kept(client, f"{TICKETS}?limit=1")

    assert again.content == first.content
    assert again.headers["link"] == first.headers["link"]


async def test_a_change_this_replica_makes_shows_on_the_next_page(
    client: httpx.AsyncClient, seller: SignedInUser
) -> None:
    await list_ticket(client, seller, "First")
    await answered_as_kept(client)
    ticket_id = await list_ticket(client, seller, "Second")
    assert await titles(client) == ["Second", "First"]
    await answered_as_kept(client)

    edited = await client.put(
        f"{TICKETS}/{ticket_id}", json={"title": "Renamed", "price": 12}, headers=seller.headers
    )

    assert edited.status_code == 200
    assert await titles(client) == ["Renamed", "First"]


async def test_a_change_another_replica_makes_shows_when_its_event_is_heard(
    client: httpx.AsyncClient,
    seller: SignedInUser,
    mongo: AsyncMongoClient[Any],
    database_name: str,
    bus: EventBus,
) -> None:
    await list_ticket(client, seller, "Show")
    await answered_as_kept(client)
    tickets = mongo[database_name]["tickets"]

    # What another replica does: its write, then its relay's publish of the event.
    await tickets.update_many({}, {"$set": {"title": "Renamed"}, "$inc": {"version": 1}})
    assert await titles(client) == ["Show"]  # kept: nothing heard yet
    renamed = Ticket.model_validate(await tickets.find_one({}))
    await Publisher(bus).publish(ticket_updated(renamed))

    async def shown() -> bool:
        return await titles(client) == ["Renamed"]

    # Well within the page's second of life: heard from the bus, not waited out.
    await wait_until(shown, timeout=0.5, message="the other replica's change shown")


async def test_a_change_nobody_announced_shows_once_the_page_is_older_than_the_setting(
    monkeypatch: pytest.MonkeyPatch,
    service_env: dict[str, str],
    mongo: AsyncMongoClient[Any],
    database_name: str,
    seller: SignedInUser,
) -> None:
    monkeypatch.setenv("LISTING_CACHE_SECONDS", "0.2")
    async with serve_app(create_app(load_settings(TicketsSettings))) as client:
        await list_ticket(client, seller, "Show")
        await answered_as_kept(client)
        await mongo[database_name]["tickets"].update_many({}, {"$set": {"title": "Behind"}})
        assert await titles(client) == ["Show"]  # kept: nothing was heard

        async def read_again() -> bool:
            return await titles(client) == ["Behind"]

        await wait_until(read_again, timeout=5, message="the page read again after 0.2 s")


def test_a_page_read_while_a_ticket_changed_is_not_kept() -> None:
    pages = PageCache(seconds=60)
    before = pages.generation

    pages.drop_all()  # a change committed while the page was being read
    pages.keep("page", before, b"[]", None)

    assert pages.get("page") is None
    pages.keep("page", pages.generation, b"[]", None)
    assert pages.get("page") is not None


def test_no_page_is_kept_when_the_setting_is_zero() -> None:
    pages = PageCache(seconds=0)

    pages.keep("page", pages.generation, b"[]", None)

    assert pages.get("page") is None
