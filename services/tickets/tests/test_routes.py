from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient

from tickets.app import create_app
from tickets.settings import TicketsSettings
from tixcommon.bus import EventBus
from tixcommon.settings import load_settings
from tixtest import SignedInUser, serve_app, stream_messages, wait_for_event

TICKETS = "/api/tickets"


async def test_create_requires_sign_in_before_validation(client: httpx.AsyncClient) -> None:
    invalid = await client.post(TICKETS, json={"title": "", "price": -1})
    malformed = await client.post(
        TICKETS, content=b"{not json", headers={"Content-Type": "application/json"}
    )

    for response in (invalid, malformed):
        assert response.status_code == 401
        assert response.json() == {"errors": [{"message": "Not authorized"}]}


async def test_create_lists_a_ticket_and_announces_it(
    client: httpx.AsyncClient, seller: SignedInUser, bus: EventBus
) -> None:
    response = await client.post(
        TICKETS, json={"title": "  Concert  ", "price": "20.5"}, headers=seller.headers
    )

    assert response.status_code == 201
    ticket = response.json()
    assert ticket == {
        "id": ticket["id"],
        "title": "Concert",
        "price": 20.5,
        "userId": seller.id,
        "version": 0,
        "quantity": 1,
        "available": 1,
        "status": "available",
    }
    event = await wait_for_event(bus, "ticket.created", lambda e: e["id"] == ticket["id"])
    assert event == {
        "id": ticket["id"],
        "version": 0,
        "title": "Concert",
        "price": 20.5,
        "userId": seller.id,
        "quantity": 1,
        "available": 1,
    }


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, [("title", "title is required"), ("price", "price is required")]),
        ({"title": "   ", "price": 10}, [("title", "Title is required")]),
        ({"title": "x", "price": 0}, [("price", "Price must be greater than 0")]),
        ({"title": "x", "price": -5}, [("price", "Price must be greater than 0")]),
        ({"title": "x", "price": "ten"}, [("price", "Price must be a number")]),
        ({"title": "x", "price": True}, [("price", "Price must be a number")]),
        ({"title": "x", "price": "NaN"}, [("price", "Price must be greater than 0")]),
        ({"title": "x", "price": 10_000_000}, [("price", "Price must be at most 1000000")]),
        ({"title": "x" * 201, "price": 1}, [("title", "Title must be at most 200 characters")]),
        ({"title": "x", "price": 0.001}, [("price", "Price must be in whole cents")]),
        ({"title": "x", "price": "10.005"}, [("price", "Price must be in whole cents")]),
        ({"title": "x", "price": 0.49}, [("price", "Price must be at least 0.50")]),
        ({"title": "x", "price": 4.67e69}, [("price", "Price must be at most 1000000")]),
        ({"title": "x", "price": "1e-30"}, [("price", "Price must be in whole cents")]),
        ({"title": "x", "price": "0x10"}, [("price", "Price must be a number")]),
    ],
)
async def test_create_rejects_invalid_tickets(
    client: httpx.AsyncClient,
    seller: SignedInUser,
    bus: EventBus,
    body: dict[str, object],
    errors: list[tuple[str, str]],
) -> None:
    response = await client.post(TICKETS, json=body, headers=seller.headers)

    assert response.status_code == 400
    assert [(e["field"], e["message"]) for e in response.json()["errors"]] == errors
    assert (await client.get(TICKETS)).json() == []
    assert await stream_messages(bus, "ticket.created") == []


async def test_list_is_empty_at_first(client: httpx.AsyncClient) -> None:
    response = await client.get(TICKETS)

    assert (response.status_code, response.json()) == (200, [])


async def test_list_shows_tickets_for_sale_newest_first(
    client: httpx.AsyncClient, seller: SignedInUser
) -> None:
    for title in ("a", "b", "c"):
        await client.post(TICKETS, json={"title": title, "price": 1}, headers=seller.headers)

    response = await client.get(TICKETS + "/")

    assert [ticket["title"] for ticket in response.json()] == ["c", "b", "a"]


async def test_show_returns_the_ticket(
    client: httpx.AsyncClient, listed: dict[str, object]
) -> None:
    response = await client.get(f"{TICKETS}/{listed['id']}")

    assert (response.status_code, response.json()) == (200, listed)


async def test_show_rejects_malformed_id_and_404s_unknown(client: httpx.AsyncClient) -> None:
    malformed = await client.get(f"{TICKETS}/not-an-id")
    unknown = await client.get(f"{TICKETS}/{'a' * 24}")

    assert malformed.status_code == 400
    assert malformed.json() == {"errors": [{"message": "id must be a valid id", "field": "id"}]}
    assert (unknown.status_code, unknown.json()) == (404, {"errors": [{"message": "Not Found"}]})


async def test_update_by_owner_bumps_version_and_announces_it(
    client: httpx.AsyncClient, seller: SignedInUser, listed: dict[str, object], bus: EventBus
) -> None:
    response = await client.put(
        f"{TICKETS}/{listed['id']}", json={"title": "Opera", "price": 30}, headers=seller.headers
    )

    assert response.status_code == 200
    assert response.json() == {**listed, "title": "Opera", "price": 30, "version": 1}
    event = await wait_for_event(bus, "ticket.updated", lambda e: e["id"] == listed["id"])
    assert (event["version"], event["title"], event["price"]) == (1, "Opera", 30)
    assert "orderId" not in event


async def test_update_checks_auth_then_validation_then_existence_then_owner(
    client: httpx.AsyncClient,
    seller: SignedInUser,
    listed: dict[str, object],
    make_user: Callable[..., SignedInUser],
) -> None:
    url = f"{TICKETS}/{listed['id']}"
    other = make_user()

    anonymous = await client.put(url, json={"title": "", "price": 0})
    invalid = await client.put(url, json={"title": "", "price": 10}, headers=other.headers)
    unknown = await client.put(
        f"{TICKETS}/{'b' * 24}", json={"title": "x", "price": 1}, headers=other.headers
    )
    malformed = await client.put(
        f"{TICKETS}/zzz", json={"title": "x", "price": 1}, headers=other.headers
    )
    not_owner = await client.put(url, json={"title": "x", "price": 1}, headers=other.headers)

    assert anonymous.status_code == 401
    assert (invalid.status_code, invalid.json()["errors"][0]["field"]) == (400, "title")
    assert unknown.status_code == 404
    assert malformed.status_code == 400
    assert (not_owner.status_code, not_owner.json()) == (
        401,
        {"errors": [{"message": "Not authorized"}]},
    )
    unchanged = (await client.get(url)).json()
    assert unchanged == listed


async def test_tickets_stored_by_an_older_release_show_list_and_edit_the_same(
    service_env: dict[str, str],
    mongo: AsyncMongoClient[Any],
    database_name: str,
    seller: SignedInUser,
    bus: EventBus,
) -> None:
    """An upgrade over existing data: listings stored before prices were kept in cents (`price`
    in dollars), before `for_sale` and before the listing's keys existed show, list and edit as
    before; their next version is stored in cents."""
    stored = mongo[database_name]["tickets"]
    older = {"title": "Older", "price": 12.5, "user_id": seller.id, "order_id": None, "version": 0}
    held = {**older, "title": "Held", "order_id": "d" * 24}
    ticket_id = str((await stored.insert_one(older)).inserted_id)
    held_id = str((await stored.insert_one(held)).inserted_id)

    async with serve_app(create_app(load_settings(TicketsSettings))) as client:
        shown = (await client.get(f"{TICKETS}/{ticket_id}")).json()
        listed = {t["id"]: t for t in (await client.get(TICKETS)).json()}
        assert shown["price"] == 12.5
        assert listed == {ticket_id: shown}
        # Given the listing's keys at start: found by search and by each sort.
        for sort in ("price", "startsAt", "-price"):
            found = await client.get(TICKETS, params={"q": "OLDER", "sort": sort})
            assert [t["id"] for t in found.json()] == [ticket_id]
        assert (await client.get(f"{TICKETS}/{held_id}")).json()["status"] == "reserved"

        edited = await client.put(
            f"{TICKETS}/{ticket_id}", json={"title": "Older", "price": 13}, headers=seller.headers
        )
        assert edited.status_code == 200
        assert edited.json()["price"] == 13
        event = await wait_for_event(bus, "ticket.updated", lambda e: e["id"] == ticket_id)
    assert (event["price"], event["version"]) == (13, 1)
    document = await stored.find_one({"_id": ObjectId(ticket_id)})
    assert document is not None
    assert (document["price_cents"], document["for_sale"]) == (1300, True)


async def test_a_path_of_several_routes_allows_all_their_methods(client: httpx.AsyncClient) -> None:
    """/api/tickets is two routes (the listing and the sale): Allow names both, whatever the
    case or trailing slash of the path."""
    refused = await client.request("TRACE", "/API/Tickets/")
    options = await client.options("/api/tickets")

    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, HEAD, OPTIONS, POST"
    assert (options.status_code, options.headers["allow"]) == (204, "GET, HEAD, OPTIONS, POST")


async def test_head_of_the_listing_is_its_get_without_the_body(client: httpx.AsyncClient) -> None:
    listing = await client.get("/api/tickets")
    head = await client.head("/api/tickets")

    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == listing.headers["content-length"]
