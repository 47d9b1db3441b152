"""The on-sale fields of a listing: onSaleAt and perBuyerLimit (optional, validated, returned in
every ticket body and in the ticket's events; on an edit, left out kept and null cleared)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from tixcommon.bus import EventBus
from tixtest import SignedInUser, stream_messages, wait_for_event

TICKETS = "/api/tickets"


def in_days(days: float, offset_hours: int = 1) -> str:
    """A moment `days` from now, with a non-UTC offset and milliseconds, as a browser sends."""
    zone = timezone(timedelta(hours=offset_hours))
    moment = datetime.now(zone) + timedelta(days=days)
    return moment.isoformat(timespec="milliseconds")


def as_utc(moment: str) -> str:
    """How the service answers a moment: in UTC, with its milliseconds and a `Z`."""
    return datetime.fromisoformat(moment).astimezone(UTC).isoformat().replace("+00:00", "Z")


async def listing(
    client: httpx.AsyncClient, seller: SignedInUser, **fields: object
) -> dict[str, object]:
    created = await client.post(
        TICKETS, json={"title": "Arena", "price": 60, "quantity": 100, **fields},
        headers=seller.headers,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    ticket: dict[str, object] = created.json()
    return ticket


async def test_a_scheduled_sale_is_shown_in_utc_listed_and_announced(
    client: httpx.AsyncClient, seller: SignedInUser, bus: EventBus
) -> None:
    on_sale, starts = in_days(2), in_days(30)

    ticket = await listing(client, seller, onSaleAt=on_sale, startsAt=starts, perBuyerLimit=4)

    assert (ticket["onSaleAt"], ticket["perBuyerLimit"]) == (as_utc(on_sale), 4)
    assert str(ticket["onSaleAt"]).endswith("Z")
    # Listed and shown before the sale opens, alike.
    assert (await client.get(f"{TICKETS}/{ticket['id']}")).json() == ticket
    assert (await client.get(TICKETS)).json() == [ticket]
    event = await wait_for_event(bus, "ticket.created", lambda e: e["id"] == ticket["id"])
    assert (event["onSaleAt"], event["perBuyerLimit"]) == (as_utc(on_sale), 4)
    assert datetime.fromisoformat(event["onSaleAt"]) == datetime.fromisoformat(on_sale)


async def test_a_listing_without_them_has_neither_in_its_body_or_event(
    client: httpx.AsyncClient, seller: SignedInUser, bus: EventBus
) -> None:
    ticket = await listing(client, seller)

    assert not {"onSaleAt", "perBuyerLimit"} & set(ticket)
    event = await wait_for_event(bus, "ticket.created", lambda e: e["id"] == ticket["id"])
    assert not {"onSaleAt", "perBuyerLimit"} & set(event)


async def test_a_limit_may_come_as_digits(client: httpx.AsyncClient, seller: SignedInUser) -> None:
    ticket = await listing(client, seller, perBuyerLimit=" 10 ")

    assert ticket["perBuyerLimit"] == 10


LIMIT_INVALID = "perBuyerLimit must be a whole number from 1 to 10"
ON_SALE_FORMAT = "On-sale time must be an ISO 8601 date-time with a UTC offset"
IN_PAST = "On-sale time must be in the future"
AFTER_START = "On-sale time must be before the start time"


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"onSaleAt": "2020-01-01T10:00:00Z"}, [("onSaleAt", IN_PAST)]),
        ({"onSaleAt": "2099-01-01T10:00:00"}, [("onSaleAt", ON_SALE_FORMAT)]),
        ({"onSaleAt": "tomorrow"}, [("onSaleAt", ON_SALE_FORMAT)]),
        ({"onSaleAt": 1_900_000_000}, [("onSaleAt", ON_SALE_FORMAT)]),
        (
            {"onSaleAt": "9999-12-31T23:59:59-01:00"},
            [("onSaleAt", "On-sale time must be before the year 10000 in UTC")],
        ),
        *(
            ({"perBuyerLimit": limit}, [("perBuyerLimit", LIMIT_INVALID)])
            for limit in (0, 11, -1, 2.5, "two", "", True, [4])
        ),
        (
            {"title": "", "onSaleAt": "soon", "perBuyerLimit": 0},
            [
                ("title", "Title is required"),
                ("onSaleAt", ON_SALE_FORMAT),
                ("perBuyerLimit", LIMIT_INVALID),
            ],
        ),
    ],
)
async def test_invalid_on_sale_fields_are_refused_naming_each_field(
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


@pytest.mark.parametrize("on_sale_days", [30, 31])
async def test_a_sale_must_open_before_the_event_starts(
    client: httpx.AsyncClient, seller: SignedInUser, bus: EventBus, on_sale_days: int
) -> None:
    starts = in_days(30)
    on_sale = starts if on_sale_days == 30 else in_days(on_sale_days)

    response = await client.post(
        TICKETS,
        json={"title": "Show", "price": 10, "startsAt": starts, "onSaleAt": on_sale},
        headers=seller.headers,
    )

    assert (response.status_code, response.json()) == (
        400,
        {"errors": [{"message": AFTER_START, "field": "onSaleAt"}]},
    )
    assert await stream_messages(bus, "ticket.created") == []


async def test_an_edit_keeps_omitted_on_sale_fields_and_clears_null_ones(
    client: httpx.AsyncClient, seller: SignedInUser, bus: EventBus
) -> None:
    on_sale, later = in_days(2), in_days(3, offset_hours=-5)
    ticket = await listing(client, seller, onSaleAt=on_sale, perBuyerLimit=4)
    url, body = f"{TICKETS}/{ticket['id']}", {"title": "Arena tour", "price": 65}

    kept = await client.put(url, json=body, headers=seller.headers)
    moved = await client.put(
        url, json={**body, "onSaleAt": later, "perBuyerLimit": 2}, headers=seller.headers
    )
    cleared = await client.put(
        url, json={**body, "onSaleAt": None, "perBuyerLimit": None}, headers=seller.headers
    )

    assert (kept.json()["onSaleAt"], kept.json()["perBuyerLimit"]) == (as_utc(on_sale), 4)
    assert (moved.json()["onSaleAt"], moved.json()["perBuyerLimit"]) == (as_utc(later), 2)
    assert not {"onSaleAt", "perBuyerLimit"} & set(cleared.json())
    assert cleared.json()["version"] == 3
    assert (await client.get(url)).json() == cleared.json()
    second = await wait_for_event(bus, "ticket.updated", lambda e: e["version"] == 2)
    assert (second["onSaleAt"], second["perBuyerLimit"]) == (as_utc(later), 2)
    last = await wait_for_event(bus, "ticket.updated", lambda e: e["version"] == 3)
    assert not {"onSaleAt", "perBuyerLimit"} & set(last)


async def test_the_listing_shows_an_edited_limit_at_once(
    client: httpx.AsyncClient, seller: SignedInUser
) -> None:
    ticket = await listing(client, seller, perBuyerLimit=6)
    assert [shown["perBuyerLimit"] for shown in (await client.get(TICKETS)).json()] == [6]

    await client.put(
        f"{TICKETS}/{ticket['id']}",
        json={"title": "Arena", "price": 60, "perBuyerLimit": 1},
        headers=seller.headers,
    )

    # The page kept from before the edit is not answered after it.
    assert [shown["perBuyerLimit"] for shown in (await client.get(TICKETS)).json()] == [1]


async def test_an_edit_is_held_to_the_stored_start_and_on_sale(
    client: httpx.AsyncClient, seller: SignedInUser
) -> None:
    starts, on_sale = in_days(10), in_days(5)
    ticket = await listing(client, seller, startsAt=starts, onSaleAt=on_sale)
    url, body = f"{TICKETS}/{ticket['id']}", {"title": "Arena", "price": 60}

    sale_too_late = await client.put(
        url, json={**body, "onSaleAt": in_days(11)}, headers=seller.headers
    )
    start_too_soon = await client.put(
        url, json={**body, "startsAt": in_days(4)}, headers=seller.headers
    )
    undated = await client.put(url, json={**body, "startsAt": None}, headers=seller.headers)

    for refused in (sale_too_late, start_too_soon):
        assert refused.status_code == 400
        assert refused.json()["errors"] == [{"message": AFTER_START, "field": "onSaleAt"}]
    # Without a start, any future on-sale will do.
    assert undated.status_code == 200
    assert (undated.json()["onSaleAt"], undated.json()["version"]) == (as_utc(on_sale), 1)
    later = await client.put(url, json={**body, "onSaleAt": in_days(40)}, headers=seller.headers)
    assert later.status_code == 200


async def test_an_edit_refuses_a_past_on_sale_and_changes_nothing(
    client: httpx.AsyncClient, seller: SignedInUser
) -> None:
    ticket = await listing(client, seller, perBuyerLimit=3)
    url = f"{TICKETS}/{ticket['id']}"

    past = {"onSaleAt": "2001-01-01T00:00:00Z", "perBuyerLimit": 5}

    response = await client.put(
        url, json={"title": "Arena", "price": 60, **past}, headers=seller.headers
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [{"message": IN_PAST, "field": "onSaleAt"}]
    assert (await client.get(url)).json() == ticket
