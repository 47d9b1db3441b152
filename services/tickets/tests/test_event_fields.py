"""The catalogue's event fields on a listing: startsAt, venue, description (optional, validated,
returned in every ticket body and, for startsAt, in the ticket's events)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from bson import ObjectId

from tickets.models import Ticket, starts_key
from tixcommon.bus import EventBus
from tixtest import SignedInUser, stream_messages, wait_for_event

TICKETS = "/api/tickets"


def in_days(days: int, offset_hours: int = 1) -> str:
    """A moment `days` from now, written with a non-UTC offset as a seller's browser might."""
    zone = timezone(timedelta(hours=offset_hours))
    return (datetime.now(zone) + timedelta(days=days)).replace(microsecond=0).isoformat()


def as_utc(moment: str) -> str:
    return datetime.fromisoformat(moment).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_a_listing_with_its_event_shows_it_in_utc_and_announces_when_and_where(
    client: httpx.AsyncClient, seller: SignedInUser, bus: EventBus
) -> None:
    starts = in_days(30)
    body = {
        "title": "Opera",
        "price": 45.5,
        "startsAt": starts,
        "venue": "  Royal Albert Hall, London ",
        "description": "Act one.\n<b>Not bold</b>",
    }

    created = await client.post(TICKETS, json=body, headers=seller.headers)

    assert created.status_code == 201
    ticket = created.json()
    assert ticket["startsAt"] == as_utc(starts)
    assert ticket["venue"] == "Royal Albert Hall, London"
    assert ticket["description"] == "Act one.\n<b>Not bold</b>"
    assert (await client.get(f"{TICKETS}/{ticket['id']}")).json() == ticket
    assert (await client.get(TICKETS)).json() == [ticket]
    event = await wait_for_event(bus, "ticket.created", lambda e: e["id"] == ticket["id"])
    assert event["startsAt"] == as_utc(starts)
    assert event["venue"] == "Royal Albert Hall, London"  # for the passes orders prints
    assert "description" not in event


async def test_a_listing_without_event_fields_has_none_in_its_body_or_event(
    client: httpx.AsyncClient, listed: dict[str, object], bus: EventBus
) -> None:
    assert not {"startsAt", "venue", "description"} & set(listed)
    event = await wait_for_event(bus, "ticket.created", lambda e: e["id"] == listed["id"])
    assert not {"startsAt", "venue"} & set(event)


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (
            {"startsAt": "2020-01-01T20:00:00+00:00"},
            [("startsAt", "Start time must be in the future")],
        ),
        (
            {"startsAt": "2099-01-01T20:00:00"},
            [("startsAt", "Start time must be an ISO 8601 date-time with a UTC offset")],
        ),
        (
            {"startsAt": "next friday"},
            [("startsAt", "Start time must be an ISO 8601 date-time with a UTC offset")],
        ),
        (
            {"startsAt": 12},
            [("startsAt", "Start time must be an ISO 8601 date-time with a UTC offset")],
        ),
        ({"venue": "   "}, [("venue", "Venue must not be blank")]),
        ({"venue": "v" * 201}, [("venue", "Venue must be at most 200 characters")]),
        ({"venue": 5}, [("venue", "Input should be a valid string")]),
        (
            {"description": "d" * 2001},
            [("description", "Description must be at most 2000 characters")],
        ),
        (
            {"title": "", "price": 0.001, "startsAt": "soon", "venue": ""},
            [
                ("title", "Title is required"),
                ("price", "Price must be in whole cents"),
                ("startsAt", "Start time must be an ISO 8601 date-time with a UTC offset"),
                ("venue", "Venue must not be blank"),
            ],
        ),
    ],
)
async def test_invalid_event_fields_are_refused_naming_each_field(
    client: httpx.AsyncClient,
    seller: SignedInUser,
    bus: EventBus,
    fields: dict[str, object],
    errors: list[tuple[str, str]],
) -> None:
    response = await client.post(
        TICKETS, json={"title": "Show", "price": 10, **fields}, headers=seller.headers
    )

    assert response.status_code == 400
    assert [(e["field"], e["message"]) for e in response.json()["errors"]] == errors
    assert (await client.get(TICKETS)).json() == []
    assert await stream_messages(bus, "ticket.created") == []


async def test_an_edit_keeps_omitted_event_fields_and_clears_null_ones(
    client: httpx.AsyncClient, seller: SignedInUser, bus: EventBus
) -> None:
    starts, later = in_days(10), in_days(20, offset_hours=-5)
    created = await client.post(
        TICKETS,
        json={"title": "Jazz", "price": 20, "startsAt": starts, "venue": "Blue Note"},
        headers=seller.headers,
    )
    url = f"{TICKETS}/{created.json()['id']}"

    kept = await client.put(url, json={"title": "Jazz trio", "price": 25}, headers=seller.headers)
    moved = await client.put(
        url,
        json={"title": "Jazz trio", "price": 25, "startsAt": later, "venue": None},
        headers=seller.headers,
    )
    cleared = await client.put(
        url, json={"title": "Jazz trio", "price": 25, "startsAt": None}, headers=seller.headers
    )

    assert (kept.json()["startsAt"], kept.json()["venue"]) == (as_utc(starts), "Blue Note")
    assert moved.json()["startsAt"] == as_utc(later)
    assert "venue" not in moved.json()
    assert not {"startsAt", "venue"} & set(cleared.json())
    assert cleared.json()["version"] == 3
    last = await wait_for_event(bus, "ticket.updated", lambda e: e["version"] == 3)
    assert "startsAt" not in last
    second = await wait_for_event(bus, "ticket.updated", lambda e: e["version"] == 2)
    assert second["startsAt"] == as_utc(later)


async def test_an_edit_refuses_a_past_start_and_changes_nothing(
    client: httpx.AsyncClient, seller: SignedInUser, listed: dict[str, object]
) -> None:
    url = f"{TICKETS}/{listed['id']}"

    response = await client.put(
        url,
        json={"title": "Concert", "price": 20, "startsAt": "2001-01-01T00:00:00Z"},
        headers=seller.headers,
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "startsAt"
    assert (await client.get(url)).json() == listed


async def test_a_listing_whose_event_has_started_is_left_out_of_the_listing_but_shown(
    client: httpx.AsyncClient, seller: SignedInUser, listed: dict[str, object]
) -> None:
    soon = await client.post(
        TICKETS, json={"title": "Matinee", "price": 5, "startsAt": in_days(2)},
        headers=seller.headers,
    )  # fmt: skip
    started = soon.json()
    # Time passes: the event starts (written as the clock would leave it).
    past = datetime.now(UTC) - timedelta(minutes=1)
    await Ticket.get_pymongo_collection().update_one(
        {"_id": ObjectId(started["id"])},
        {"$set": {"starts_at": past, "starts_key": f"{starts_key(past)}{started['id']}"}},
    )

    listing = (await client.get(TICKETS)).json()
    shown = await client.get(f"{TICKETS}/{started['id']}")

    assert [ticket["id"] for ticket in listing] == [listed["id"]]
    assert shown.status_code == 200
    assert shown.json()["title"] == "Matinee"
