"""`Idempotency-Key` on POST /api/tickets (the mechanism every retry-safe POST shares): a retry
gets the first answer and changes nothing; the same key on another request, or an invalid
key, is a 400 naming the header; concurrent requests with one key list one ticket."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from tixcommon.idempotency import COLLECTION
from tixtest import SignedInUser

TICKETS = "/api/tickets"
GIG = {"title": "Gig", "price": 20}


def keyed(user: SignedInUser, key: str) -> dict[str, str]:
    return {**user.headers, "Idempotency-Key": key}


async def mine(client: httpx.AsyncClient, seller: SignedInUser) -> list[Any]:
    listed: list[Any] = (await client.get(f"{TICKETS}/mine", headers=seller.headers)).json()
    return listed


async def test_a_retry_gets_the_first_answer_and_lists_nothing_more(
    client: httpx.AsyncClient, seller: SignedInUser
) -> None:
    first = await client.post(TICKETS, json=GIG, headers=keyed(seller, "k-1"))
    retry = await client.post(TICKETS, json=GIG, headers=keyed(seller, "k-1"))

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert [t["id"] for t in await mine(client, seller)] == [first.json()["id"]]


async def test_the_same_key_on_another_request_is_a_400_naming_the_header(
    client: httpx.AsyncClient, seller: SignedInUser
) -> None:
    await client.post(TICKETS, json=GIG, headers=keyed(seller, "k-2"))

    reused = await client.post(TICKETS, json={**GIG, "price": 21}, headers=keyed(seller, "k-2"))

    assert reused.status_code == 400
    assert reused.json() == {
        "errors": [
            {
                "message": "Idempotency-Key was already used for a different request",
                "field": "Idempotency-Key",
            }
        ]
    }
    assert len(await mine(client, seller)) == 1


async def test_keys_are_each_callers_own(
    client: httpx.AsyncClient, make_user: Callable[..., SignedInUser]
) -> None:
    one, other = make_user(), make_user()

    first = await client.post(TICKETS, json=GIG, headers=keyed(one, "shared"))
    second = await client.post(TICKETS, json=GIG, headers=keyed(other, "shared"))

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]


async def test_concurrent_requests_with_one_key_list_one_ticket(
    client: httpx.AsyncClient, seller: SignedInUser
) -> None:
    answers = await asyncio.gather(
        *(client.post(TICKETS, json=GIG, headers=keyed(seller, "burst")) for _ in range(10))
    )

    assert {answer.status_code for answer in answers} == {201}
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert len(await mine(client, seller)) == 1


@pytest.mark.parametrize("key", [b"", b"has space", b"x" * 256, "caf\u00e9".encode()])
async def test_an_invalid_key_is_a_400_naming_the_header_and_lists_nothing(
    client: httpx.AsyncClient, seller: SignedInUser, key: bytes
) -> None:
    refused = await client.post(
        TICKETS,
        json=GIG,
        headers=[
            *((name.encode(), value.encode()) for name, value in seller.headers.items()),
            (b"Idempotency-Key", key),
        ],
    )

    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await mine(client, seller) == []


async def test_a_refused_request_is_not_kept_so_its_corrected_retry_runs(
    client: httpx.AsyncClient, seller: SignedInUser
) -> None:
    refused = await client.post(TICKETS, json={"title": ""}, headers=keyed(seller, "k-3"))
    corrected = await client.post(TICKETS, json=GIG, headers=keyed(seller, "k-3"))

    assert (refused.status_code, corrected.status_code) == (400, 201)
    assert len(await mine(client, seller)) == 1


async def test_a_key_is_forgotten_after_a_day(
    client: httpx.AsyncClient,
    seller: SignedInUser,
    mongo: AsyncMongoClient[Any],
    service_env: dict[str, str],
) -> None:
    await client.post(TICKETS, json=GIG, headers=keyed(seller, "k-4"))
    keys = mongo[service_env["MONGO_DB"]][COLLECTION]
    day_ago = datetime.now(UTC) - timedelta(hours=24, seconds=1)
    await keys.update_many({}, {"$set": {"at": day_ago}})

    again = await client.post(TICKETS, json=GIG, headers=keyed(seller, "k-4"))

    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert len(await mine(client, seller)) == 2
