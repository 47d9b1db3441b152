"""The catalogue's listing: keyset pages, sorts, search and filters, and their errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tixtest import SignedInUser

TICKETS = "/api/tickets"


def days_ahead(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0).isoformat()


async def list_ticket(
    client: httpx.AsyncClient, seller: SignedInUser, title: str, price: float = 10, **event: Any
) -> dict[str, Any]:
    response = await client.post(
        TICKETS, json={"title": title, "price": price, **event}, headers=seller.headers
    )
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


async def every_page(client: httpx.AsyncClient, url: str) -> list[list[str]]:
    """Follow the Link headers from `url`: the titles on each page."""
    pages: list[list[str]] = []
    next_url: str | None = url
    while next_url is not None:
        response = await client.get(next_url)
        assert response.status_code == 200, response.text
        pages.append([ticket["title"] for ticket in response.json()])
        next_url = response.links.get("next", {}).get("url")
        assert len(pages) < 50, "the links never end"
    return pages


async def test_pages_follow_their_links_through_every_ticket_once(
    client: httpx.AsyncClient, seller: SignedInUser
) -> None:
    for n in range(5):
        await list_ticket(client, seller, f"Show {n}")

    pages = await every_page(client, f"{TICKETS}?limit=2")
    exact = await client.get(f"{TICKETS}?limit=5")

    assert pages == [["Show 4", "Show 3"], ["Show 2", "Show 1"], ["Show 0"]]
    assert "link" not in exact.headers  # a full last page has no next
    whole = await client.get(TICKETS)
    assert len(whole.json()) == 5


async def test_a_next_link_keeps_every_other_parameter(
    client: httpx.AsyncClient, seller: SignedInUser
) -> None:
    for n in range(3):
        await list_ticket(client, seller, f"Jazz {n}", price=20 + n)

    first = await client.get(TICKETS, params={"q": "jazz", "sort": "price", "limit": 1})

    link = first.links["next"]["url"]
    assert link.startswith(f"{TICKETS}?")
    following = httpx.URL(link).params
    assert (following["q"], following["sort"], following["limit"]) == ("jazz", "price", "1")
    assert [t["title"] for t in (await client.get(link)).json()] == ["Jazz 1"]


async def test_each_sort_orders_the_whole_listing(
    client: httpx.AsyncClient, seller: SignedInUser
) -> None:
    await list_ticket(client, seller, "Undated", price=30)
    await list_ticket(client, seller, "Later", price=10, startsAt=days_ahead(20))
    await list_ticket(client, seller, "Sooner", price=50, startsAt=days_ahead(2))
    await list_ticket(client, seller, "Also 10", price=10)
    await list_ticket(client, seller, "Far", price=70, startsAt="2300-01-01T00:00:00Z")

    async def titles(sort: str) -> list[str]:
        pages = await every_page(client, f"{TICKETS}?sort={sort}&limit=3")
        return [title for page in pages for title in page]

    assert await titles("newest") == ["Far", "Also 10", "Sooner", "Later", "Undated"]
    assert await titles("startsAt") == ["Sooner", "Later", "Far", "Undated", "Also 10"]
    assert await titles("price") == ["Later", "Also 10", "Undated", "Sooner", "Far"]
    assert await titles("-price") == ["Far", "Sooner", "Undated", "Also 10", "Later"]


async def test_search_finds_every_word_as_a_whole_word_in_title_venue_or_description(
    client: httpx.AsyncClient, seller: SignedInUser
) -> None:
    await list_ticket(client, seller, "Jazz Trio", venue="Blue Note, New York")
    await list_ticket(client, seller, "Piano night", description="Jazz standards all evening")
    await list_ticket(client, seller, "Jazzercise class", venue="New York Gym")

    async def found(q: str) -> list[str]:
        return sorted(t["title"] for t in (await client.get(TICKETS, params={"q": q})).json())

    assert await found("jazz") == ["Jazz Trio", "Piano night"]
    assert await found("JAZZ  york") == ["Jazz Trio"]
    assert await found("new york") == ["Jazz Trio", "Jazzercise class"]
    assert await found("jazz gym") == []
    assert await found("   ") == ["Jazz Trio", "Jazzercise class", "Piano night"]


async def test_price_and_date_bounds_are_inclusive_and_dates_leave_out_the_undated(
    client: httpx.AsyncClient, seller: SignedInUser
) -> None:
    soon = days_ahead(3)
    await list_ticket(client, seller, "Cheap", price=5)
    await list_ticket(client, seller, "Mid", price=20.5, startsAt=soon)
    await list_ticket(client, seller, "Dear", price=100, startsAt=days_ahead(30))

    async def found(**params: str) -> list[str]:
        return sorted(t["title"] for t in (await client.get(TICKETS, params=params)).json())

    assert await found(minPrice="20.5", maxPrice="100") == ["Dear", "Mid"]
    assert await found(maxPrice="20.50") == ["Cheap", "Mid"]
    assert await found(minPrice="0", maxPrice="4.99") == []
    assert await found(**{"from": soon, "to": soon}) == ["Mid"]
    assert await found(**{"from": soon[:10]}) == ["Dear", "Mid"]
    assert await found(to=days_ahead(10)) == ["Mid"]
    assert await found(to="9999-12-31") == ["Dear", "Mid"]
    assert await found(**{"from": "0001-01-01"}) == ["Dear", "Mid"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"minPrice": "-1"}, "minPrice"),
        ({"maxPrice": "cheap"}, "maxPrice"),
        ({"minPrice": "10", "maxPrice": "5"}, "maxPrice"),
        ({"from": "tomorrow"}, "from"),
        ({"to": "2030-01-01T10:00:00"}, "to"),
        ({"from": "2030-02-01", "to": "2030-01-01"}, "to"),
        ({"sort": "title"}, "sort"),
        ({"cursor": "garbage"}, "cursor"),
        ({"cursor": ""}, "cursor"),
    ],
)
async def test_an_invalid_parameter_is_a_400_naming_it(
    client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    response = await client.get(TICKETS, params=params)

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == [field]


async def test_an_edited_cursor_or_one_made_for_another_sort_is_refused(
    client: httpx.AsyncClient, seller: SignedInUser
) -> None:
    for n in range(3):
        await list_ticket(client, seller, f"Show {n}")
    link = (await client.get(TICKETS, params={"limit": 1})).links["next"]["url"]
    cursor = httpx.URL(link).params["cursor"]
    edited = cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")

    for params in ({"cursor": edited}, {"cursor": cursor, "sort": "price"}):
        response = await client.get(TICKETS, params={"limit": 1, **params})
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == "cursor"
    assert (await client.get(link)).status_code == 200
