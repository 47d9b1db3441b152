"""Passwords: hashed with the parameters chosen (auth.passwords), older hashes upgraded on the
next sign-in, an on-sale's burst of sign-ins answered, and a sign-in that would wait past the
bound refused at once."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from argon2 import extract_parameters
from pwdlib.hashers.argon2 import Argon2Hasher

from auth.app import create_app
from auth.models import User
from auth.passwords import ARGON2_MEMORY_KIB, ARGON2_PARALLELISM, ARGON2_TIME_COST, BUSY
from auth.settings import AuthSettings
from tixcommon.settings import load_settings
from tixtest import serve_app
from tixtest.metrics import metric

SIGNIN = "/api/users/signin"


def parameters(password_hash: str) -> tuple[int, int, int]:
    found = extract_parameters(password_hash)
    return found.memory_cost, found.time_cost, found.parallelism


CHOSEN = (ARGON2_MEMORY_KIB, ARGON2_TIME_COST, ARGON2_PARALLELISM)


async def test_a_sign_up_stores_a_hash_made_with_the_chosen_parameters(
    client: httpx.AsyncClient,
) -> None:
    signed_up = await client.post(
        "/api/users/signup", json={"email": "dora@example.com", "password": "password1"}
    )
    assert signed_up.status_code == 201
    user = await User.find_one(User.email == "dora@example.com")
    assert user is not None
    assert parameters(user.password_hash) == CHOSEN
    # At or above OWASP's minimum for argon2id (19 MiB, 2 passes, 1 lane).
    assert ARGON2_MEMORY_KIB >= 19 * 1024
    assert ARGON2_TIME_COST >= 2


async def test_an_older_hash_still_signs_in_and_is_replaced_by_one_of_the_chosen_kind(
    client: httpx.AsyncClient,
) -> None:
    # As hashes were made before the parameters were chosen: pwdlib's defaults.
    older = Argon2Hasher().hash("password1")
    await User(email="erin@example.com", password_hash=older).insert()
    assert parameters(older) != CHOSEN

    first = await client.post(SIGNIN, json={"email": "erin@example.com", "password": "password1"})
    assert first.status_code == 200, first.text
    user = await User.find_one(User.email == "erin@example.com")
    assert user is not None
    assert parameters(user.password_hash) == CHOSEN
    again = await client.post(SIGNIN, json={"email": "erin@example.com", "password": "password1"})
    assert again.status_code == 200
    wrong = await client.post(SIGNIN, json={"email": "erin@example.com", "password": "nope1234"})
    assert wrong.status_code == 400


async def test_a_burst_of_500_sign_ins_at_once_is_answered_with_no_refusal(
    client: httpx.AsyncClient,
) -> None:
    """What an on-sale brings, with the settings `make dev` runs auth with (the defaults)."""
    credentials = {"email": "gil@example.com", "password": "password1"}
    assert (await client.post("/api/users/signup", json=credentials)).status_code == 201
    hashes = metric("tixvibe_password_hash_wait_seconds_count")

    answers = await asyncio.gather(*(client.post(SIGNIN, json=credentials) for _ in range(500)))

    assert Counter(answer.status_code for answer in answers) == {200: 500}
    assert metric("tixvibe_password_hash_wait_seconds_count") == hashes + 500


async def test_a_body_over_16_kib_is_refused_before_it_waits_for_a_hash(
    client: httpx.AsyncClient,
) -> None:
    """What a waiting sign-in holds is mostly its body: auth takes at most 16 KiB."""
    credentials = {"email": "hal@example.com", "password": "password1"}
    assert (await client.post("/api/users/signup", json=credentials)).status_code == 201
    hashes = metric("tixvibe_password_hash_wait_seconds_count")

    def padded(size: int) -> bytes:
        body = json.dumps({**credentials, "pad": ""}).encode()
        return json.dumps({**credentials, "pad": "x" * (size - len(body))}).encode()

    json_body = {"Content-Type": "application/json"}
    largest = await client.post(SIGNIN, content=padded(16 * 1024), headers=json_body)
    assert largest.status_code == 200, largest.text
    over = await client.post(SIGNIN, content=padded(16 * 1024 + 1), headers=json_body)
    assert over.status_code == 413
    assert over.json() == {"errors": [{"message": "Request body is too large"}]}
    assert metric("tixvibe_password_hash_wait_seconds_count") == hashes + 1


@pytest.fixture
async def one_place(
    auth_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    # One thread, and no hash's time of waiting allowed: one sign-in at a time.
    monkeypatch.setenv("PASSWORD_HASH_WORKERS", "1")
    monkeypatch.setenv("PASSWORD_HASH_MAX_WAIT_SECONDS", "0.001")
    async with serve_app(create_app(load_settings(AuthSettings))) as http:
        yield http


async def test_sign_ins_that_would_wait_past_the_bound_are_refused_with_retry_after(
    one_place: httpx.AsyncClient,
) -> None:
    credentials = {"email": "fay@example.com", "password": "password1"}
    assert (await one_place.post("/api/users/signup", json=credentials)).status_code == 201

    answers = await asyncio.gather(*(one_place.post(SIGNIN, json=credentials) for _ in range(8)))

    statuses = Counter(answer.status_code for answer in answers)
    assert set(statuses) == {200, 503}, statuses
    for refused in (answer for answer in answers if answer.status_code == 503):
        assert refused.json() == {"errors": [{"message": BUSY}]}
        # The wait ahead was one hash (tens of milliseconds): come back in a second.
        assert refused.headers["retry-after"] == "1"
    # Nothing was held back: the place is free again.
    assert (await one_place.post(SIGNIN, json=credentials)).status_code == 200
