"""Check-in at the door (`POST /api/checkins`): the seller's scanners let each pass in once,
whatever races; a forged, altered or foreign code is refused as the contract says."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from orders.app import create_app
from orders.pass_codes import PassClaims, PassKeys, generate_signing_key, public_key_of
from orders.settings import OrdersSettings
from tixcommon.settings import ConfigurationError, load_settings
from tixtest import SignedInUser, serve_app

CHECKINS = "/api/checkins"
ListTicket = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def seller(make_user: Callable[..., SignedInUser]) -> SignedInUser:
    return make_user()


@pytest.fixture
async def sold(
    seller: SignedInUser,
    buyer: SignedInUser,
    list_ticket: ListTicket,
    paid: Callable[..., Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """A complete order of two seats of the seller's listing."""
    ticket = await list_ticket("Opera", 40, quantity=10, seller_id=seller.id)
    return await paid(buyer, ticket, quantity=2)


def refusal(message: str, field: str | None = None) -> dict[str, Any]:
    item = {"message": message} | ({"field": field} if field else {})
    return {"errors": [item]}


async def test_the_seller_checks_a_pass_in_once(
    client: httpx.AsyncClient, seller: SignedInUser, buyer: SignedInUser, sold: dict[str, Any]
) -> None:
    second = sold["passes"][1]

    scanned = await client.post(CHECKINS, json={"code": second["code"]}, headers=seller.headers)
    again = await client.post(CHECKINS, json={"code": second["code"]}, headers=seller.headers)

    assert scanned.status_code == 200, scanned.text
    body = scanned.json()
    assert body == {
        "status": "checked-in",
        "checkedInAt": body["checkedInAt"],
        "seat": 2,
        "ticket": {"id": sold["ticket"]["id"], "title": "Opera"},
    }
    checked_in_at = datetime.fromisoformat(body["checkedInAt"])
    assert abs(checked_in_at - datetime.now(UTC)) < timedelta(seconds=10)
    assert (again.status_code, again.json()) == (409, refusal("Already checked in"))
    order = (await client.get(f"/api/orders/{sold['id']}", headers=buyer.headers)).json()
    assert [(p["status"], p.get("checkedInAt")) for p in order["passes"]] == [
        ("valid", None),
        ("checked-in", body["checkedInAt"]),
    ]


async def test_two_scanners_scanning_one_pass_at_once_let_it_in_once(
    client: httpx.AsyncClient, seller: SignedInUser, sold: dict[str, Any]
) -> None:
    code = sold["passes"][0]["code"]

    answers = await asyncio.gather(
        *(client.post(CHECKINS, json={"code": code}, headers=seller.headers) for _ in range(10))
    )

    assert Counter(answer.status_code for answer in answers) == {200: 1, 409: 9}


async def test_the_same_scan_sent_again_gets_the_first_answer(
    client: httpx.AsyncClient, seller: SignedInUser, sold: dict[str, Any]
) -> None:
    code = sold["passes"][0]["code"]
    scan = {"code": code, "nonce": "scanner-7-0042"}

    first = await client.post(CHECKINS, json=scan, headers=seller.headers)
    retried = await client.post(CHECKINS, json=scan, headers=seller.headers)
    other_scan = await client.post(
        CHECKINS, json={**scan, "nonce": "scanner-8-0001"}, headers=seller.headers
    )

    assert first.status_code == 200
    assert (retried.status_code, retried.json()) == (200, first.json())
    assert other_scan.status_code == 409


async def test_an_offline_scan_uploaded_later_keeps_its_time(
    client: httpx.AsyncClient, seller: SignedInUser, sold: dict[str, Any]
) -> None:
    paris = timezone(timedelta(hours=1))
    at_the_door = (datetime.now(UTC) - timedelta(minutes=10)).replace(microsecond=250_000)

    uploaded = await client.post(
        CHECKINS,
        json={
            "code": sold["passes"][0]["code"],
            "scannedAt": at_the_door.astimezone(paris).isoformat(),
        },
        headers=seller.headers,
    )

    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["checkedInAt"] == at_the_door.strftime("%Y-%m-%dT%H:%M:%S.250Z")


@pytest.mark.parametrize(
    ("scan", "field", "message"),
    [
        ({}, "code", "code is required"),
        ({"code": "  "}, "code", "code is required"),
        ({"code": 42}, "code", None),
        ({"code": "x", "nonce": "has spaces"}, "nonce", None),
        ({"code": "x", "nonce": "n" * 65}, "nonce", None),
        ({"code": "x", "scannedAt": "yesterday"}, "scannedAt", None),
        ({"code": "x", "scannedAt": "2026-12-07T19:30:00"}, "scannedAt", None),
        ({"code": "x", "ticketId": "nope"}, "ticketId", "must be a valid id"),
        ({"code": "x", "ticketId": "a" * 25}, "ticketId", "must be a valid id"),
        ({"code": "x", "ticketId": 42}, "ticketId", None),
    ],
)
async def test_a_malformed_scan_is_refused_naming_its_field(
    client: httpx.AsyncClient,
    seller: SignedInUser,
    scan: dict[str, Any],
    field: str,
    message: str | None,
) -> None:
    refused = await client.post(CHECKINS, json=scan, headers=seller.headers)

    assert refused.status_code == 400, refused.text
    (error,) = refused.json()["errors"]
    assert error["field"] == field
    if message:
        assert error["message"] == message


async def test_a_scanner_at_a_listings_door_lets_in_that_listings_passes(
    client: httpx.AsyncClient, seller: SignedInUser, sold: dict[str, Any]
) -> None:
    scan = {"code": sold["passes"][0]["code"], "ticketId": sold["ticket"]["id"], "nonce": "d-1"}

    scanned = await client.post(CHECKINS, json=scan, headers=seller.headers)
    retried = await client.post(CHECKINS, json=scan, headers=seller.headers)

    assert scanned.status_code == 200, scanned.text
    assert scanned.json()["seat"] == 1
    assert (retried.status_code, retried.json()) == (200, scanned.json())


async def test_a_pass_of_the_sellers_other_listing_is_not_for_this_door_and_stays_valid(
    client: httpx.AsyncClient,
    seller: SignedInUser,
    buyer: SignedInUser,
    list_ticket: ListTicket,
    paid: Callable[..., Awaitable[dict[str, Any]]],
    sold: dict[str, Any],
) -> None:
    tonight = sold["ticket"]["id"]
    tomorrow = await paid(buyer, await list_ticket("Opera, night 2", 40, seller_id=seller.id))
    code = tomorrow["passes"][0]["code"]

    refused = await client.post(
        CHECKINS, json={"code": code, "ticketId": tonight}, headers=seller.headers
    )
    retried = await client.post(
        CHECKINS, json={"code": code, "ticketId": tonight, "nonce": "d-2"}, headers=seller.headers
    )

    assert (refused.status_code, refused.json()) == (400, refusal("Not for this event", "code"))
    assert (retried.status_code, retried.json()) == (400, refusal("Not for this event", "code"))
    door = await client.get(f"{CHECKINS}/{tomorrow['ticket']['id']}", headers=seller.headers)
    assert door.json()["checkedIn"] == 0
    at_its_own_door = await client.post(
        CHECKINS,
        json={"code": code, "ticketId": tomorrow["ticket"]["id"], "nonce": "d-2"},
        headers=seller.headers,
    )
    assert at_its_own_door.status_code == 200, at_its_own_door.text


async def test_the_door_is_checked_after_the_code_and_the_seller_and_before_the_pass(
    client: httpx.AsyncClient,
    seller: SignedInUser,
    make_user: Callable[..., SignedInUser],
    sold: dict[str, Any],
) -> None:
    code = sold["passes"][0]["code"]
    elsewhere = "f" * 24
    forged = code[:-2] + ("AA" if not code.endswith("AA") else "BA")

    invalid = await client.post(
        CHECKINS, json={"code": forged, "ticketId": elsewhere}, headers=seller.headers
    )
    not_yours = await client.post(
        CHECKINS, json={"code": code, "ticketId": elsewhere}, headers=make_user().headers
    )
    assert (await client.post(CHECKINS, json={"code": code}, headers=seller.headers)).is_success
    used_elsewhere = await client.post(
        CHECKINS, json={"code": code, "ticketId": elsewhere}, headers=seller.headers
    )

    assert (invalid.status_code, invalid.json()) == (400, refusal("Invalid ticket code", "code"))
    assert (not_yours.status_code, not_yours.json()) == (403, refusal("Not your event"))
    assert (used_elsewhere.status_code, used_elsewhere.json()) == (
        400,
        refusal("Not for this event", "code"),
    )


async def test_a_scan_time_in_the_future_is_refused(
    client: httpx.AsyncClient, seller: SignedInUser, sold: dict[str, Any]
) -> None:
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    code = sold["passes"][0]["code"]

    refused = await client.post(
        CHECKINS, json={"code": code, "scannedAt": later}, headers=seller.headers
    )

    assert (refused.status_code, refused.json()) == (
        400,
        refusal("Scan time is in the future", "scannedAt"),
    )
    assert (await client.post(CHECKINS, json={"code": code}, headers=seller.headers)).is_success


def altered(code: str) -> list[str]:
    """The code with each character changed in turn (every fourth, to keep the test short),
    cut short, and lengthened."""
    changed = [
        code[:i] + ("A" if code[i] != "A" else "B") + code[i + 1 :]
        for i in range(0, len(code), 4)
        if code[i] != "."
    ]
    return [*changed, code[:-1], code[:-10], code + "A", code.replace(".", "")]


async def test_forged_and_altered_codes_are_invalid(
    client: httpx.AsyncClient, seller: SignedInUser, sold: dict[str, Any]
) -> None:
    code = sold["passes"][0]["code"]
    kid, payload, _ = code.split(".")
    other_key = PassKeys.from_settings(generate_signing_key())
    _, _, other_signature = other_key.sign(
        PassClaims(sold["passes"][0]["id"], sold["ticket"]["id"], 1, 2)
    ).split(".")
    forged = [
        *altered(code),
        f"{kid}.{payload}.{other_signature}",  # our kid, another key's signature
        other_key.sign(PassClaims(sold["passes"][0]["id"], sold["ticket"]["id"], 1, 2)),
        "",
        "...",
        "é" * 130,
        "x" * 1000,
    ]

    answers = await asyncio.gather(
        *(client.post(CHECKINS, json={"code": f}, headers=seller.headers) for f in forged)
    )

    for sent, answer in zip(forged, answers, strict=True):
        if not sent.strip():
            continue  # blank: "code is required"
        assert (answer.status_code, answer.json()) == (
            400,
            refusal("Invalid ticket code", "code"),
        ), sent
    genuine = await client.post(CHECKINS, json={"code": code}, headers=seller.headers)
    assert genuine.status_code == 200  # none of them let the pass in


async def test_another_sellers_scanner_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
    seller: SignedInUser,
    buyer: SignedInUser,
    make_user: Callable[..., SignedInUser],
    sold: dict[str, Any],
) -> None:
    code = sold["passes"][0]["code"]

    for stranger in (make_user(), buyer):
        refused = await client.post(CHECKINS, json={"code": code}, headers=stranger.headers)
        assert (refused.status_code, refused.json()) == (403, refusal("Not your event"))
    signed_out = await client.post(CHECKINS, json={"code": code})
    assert signed_out.status_code == 401
    assert (await client.post(CHECKINS, json={"code": code}, headers=seller.headers)).is_success


async def test_passes_signed_before_a_key_rotation_still_check_in(
    client: httpx.AsyncClient,
    seller: SignedInUser,
    sold: dict[str, Any],
    service_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = (await client.get("/api/orders/passes/keys")).json()
    old_key = service_env["PASS_SIGNING_KEY"]
    monkeypatch.setenv("PASS_SIGNING_KEY", generate_signing_key())
    monkeypatch.setenv("PASS_RETIRED_KEYS", public_key_of(old_key))

    async with serve_app(create_app(load_settings(OrdersSettings))) as rotated:
        keys = (await rotated.get("/api/orders/passes/keys")).json()
        scanned = await rotated.post(
            CHECKINS, json={"code": sold["passes"][0]["code"]}, headers=seller.headers
        )

    assert len(keys["keys"]) == 2
    assert keys["keys"][1] == before["keys"][0]  # the retired key, still published
    assert scanned.status_code == 200, scanned.text


async def test_a_pass_key_that_is_no_key_stops_the_service_at_start(
    service_env: dict[str, str], mail_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PASS_SIGNING_KEY", "not-a-key")
    with pytest.raises(ConfigurationError, match="PASS_SIGNING_KEY") as raised:
        load_settings(OrdersSettings)
    assert "not-a-key" not in str(raised.value)


async def test_the_seller_sees_how_many_of_the_sold_seats_are_in(
    client: httpx.AsyncClient,
    seller: SignedInUser,
    buyer: SignedInUser,
    make_user: Callable[..., SignedInUser],
    sold: dict[str, Any],
) -> None:
    door = f"{CHECKINS}/{sold['ticket']['id']}"
    before = await client.get(door, headers=seller.headers)
    await client.post(CHECKINS, json={"code": sold["passes"][0]["code"]}, headers=seller.headers)
    after = await client.get(door, headers=seller.headers)

    ticket = {"id": sold["ticket"]["id"], "title": "Opera"}
    assert before.json() == {"ticket": ticket, "sold": 2, "checkedIn": 0}
    assert after.json() == {"ticket": ticket, "sold": 2, "checkedIn": 1}
    for other in (buyer, make_user()):
        refused = await client.get(door, headers=other.headers)
        assert (refused.status_code, refused.json()) == (403, refusal("Not your event"))
    assert (await client.get(f"{CHECKINS}/{'f' * 24}", headers=seller.headers)).status_code == 404
    malformed = await client.get(f"{CHECKINS}/nope", headers=seller.headers)
    assert (malformed.status_code, malformed.json()["errors"][0]["field"]) == (400, "ticketId")


async def test_the_api_document_describes_the_scanners_listing_and_its_refusal(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/api/orders/openapi.json")).json()
    operation = document["paths"]["/api/checkins"]["post"]
    body_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = document["components"]["schemas"][body_ref.rsplit("/", 1)[1]]

    ticket_id = body["properties"]["ticketId"]
    assert "ticketId" not in body.get("required", [])
    assert {"type": "string", "pattern": "^[0-9a-fA-F]{24}$"}.items() <= next(
        one for one in ticket_id["anyOf"] if one.get("type") == "string"
    ).items()
    refused = operation["responses"]["400"]["content"]["application/json"]["examples"]
    assert {"errors": [{"message": "Not for this event", "field": "code"}]} in [
        example["value"] for example in refused.values()
    ]
