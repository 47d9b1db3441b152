"""Keeping an account: a reset by mailed link, a password change, signing out everywhere, and
every earlier session refused after each (by auth itself here; by every service in
devtools/tests/test_accounts_flow.py)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from auth.app import create_app
from auth.settings import AuthSettings
from tixcommon.bus import EventBus
from tixcommon.settings import load_settings
from tixtest import SmtpServer, serve_app, wait_until

RESET = "/api/users/password-reset"
CONFIRM = "/api/users/password-reset/confirm"
CHANGE = "/api/users/password"
EVERYWHERE = "/api/users/signout-everywhere"
ME = "/api/users/currentuser"
EMAIL, PASSWORD, NEW_PASSWORD = "dana@example.com", "password1", "brand new password"
INVALID_RESET = {"errors": [{"message": "Reset link is invalid or has expired", "field": "token"}]}
# Revocation reaches every process within this (the contract's bound).
REVOKED_WITHIN = 5.0


@pytest.fixture
async def auth_app(
    auth_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    monkeypatch.setenv("PASSWORD_RESET_MAX_PER_EMAIL", "3")
    monkeypatch.setenv("PASSWORD_RESET_MAX_PER_ADDRESS", "8")
    app = create_app(load_settings(AuthSettings))
    async with serve_app(app) as http:
        yield app, http


@pytest.fixture
def http(auth_app: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return auth_app[1]


@pytest.fixture
async def session(http: httpx.AsyncClient) -> str:
    """Dana's account, and the session its sign-up began (the client keeps no cookie)."""
    response = await http.post("/api/users/signup", json={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 201
    http.cookies.clear()
    return response.cookies["session"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def who(http: httpx.AsyncClient, token: str) -> Any:
    return (await http.get(ME, headers=bearer(token))).json()["currentUser"]


async def signed_out(http: httpx.AsyncClient, token: str) -> None:
    async def refused() -> bool:
        return await who(http, token) is None

    await wait_until(refused, timeout=REVOKED_WITHIN, message="the old session refused")


async def another_session(http: httpx.AsyncClient) -> str:
    """A second session of Dana's, as another device signs in (the client keeps no cookie)."""
    signin = await http.post("/api/users/signin", json={"email": EMAIL, "password": PASSWORD})
    assert signin.status_code == 200
    http.cookies.clear()
    return signin.cookies["session"]


async def mailed_link(smtp_server: SmtpServer, to: str, count: int = 1) -> str:
    """The token of the `count`th reset mail to `to`."""

    def mails() -> list[EmailMessage]:
        return [m for m in smtp_server.messages() if m["To"] == to]

    found = await wait_until(lambda: len(mails()) >= count and mails(), message="reset mail")
    body = found[count - 1].get_body(("plain",))
    assert body is not None
    match = re.search(r"http://tixvibe\.test/auth/reset\?token=(\S+)", body.get_content())
    assert match, body.get_content()
    return parse_qs(urlparse(match.group(0)).query)["token"][0]


async def test_a_mailed_link_resets_the_password_and_ends_every_session(
    http: httpx.AsyncClient, session: str, smtp_server: SmtpServer
) -> None:
    assert (await who(http, session))["email"] == EMAIL

    asked = await http.post(RESET, json={"email": "Dana@Example.com"})
    assert (asked.status_code, asked.json()) == (202, {})
    token = await mailed_link(smtp_server, EMAIL)
    confirmed = await http.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD})

    assert confirmed.status_code == 200
    assert confirmed.json()["email"] == EMAIL
    fresh = confirmed.cookies["session"]
    http.cookies.clear()
    await signed_out(http, session)
    assert (await who(http, fresh))["email"] == EMAIL  # the one the reset answered with
    old = await http.post("/api/users/signin", json={"email": EMAIL, "password": PASSWORD})
    assert old.status_code == 400
    new = await http.post("/api/users/signin", json={"email": EMAIL, "password": NEW_PASSWORD})
    assert new.status_code == 200
    assert await who(http, new.cookies["session"]) is not None


async def test_a_link_works_once(
    http: httpx.AsyncClient, session: str, smtp_server: SmtpServer
) -> None:
    await http.post(RESET, json={"email": EMAIL})
    token = await mailed_link(smtp_server, EMAIL)
    first = await http.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD})
    again = await http.post(CONFIRM, json={"token": token, "password": "another password"})

    assert first.status_code == 200
    assert (again.status_code, again.json()) == (400, INVALID_RESET)
    kept = await http.post("/api/users/signin", json={"email": EMAIL, "password": NEW_PASSWORD})
    assert kept.status_code == 200


async def test_a_reset_uses_up_every_other_open_link_of_the_account(
    http: httpx.AsyncClient, session: str, smtp_server: SmtpServer
) -> None:
    await http.post(RESET, json={"email": EMAIL})
    await http.post(RESET, json={"email": EMAIL})
    older, newer = (
        await mailed_link(smtp_server, EMAIL, 1),
        await mailed_link(smtp_server, EMAIL, 2),
    )
    assert older != newer

    assert (await http.post(CONFIRM, json={"token": newer, "password": NEW_PASSWORD})).is_success
    stale = await http.post(CONFIRM, json={"token": older, "password": "another password"})
    assert (stale.status_code, stale.json()) == (400, INVALID_RESET)


async def test_a_link_expires_after_thirty_minutes(
    auth_app: tuple[FastAPI, httpx.AsyncClient], session: str, smtp_server: SmtpServer
) -> None:
    app, http = auth_app
    await http.post(RESET, json={"email": EMAIL})
    token = await mailed_link(smtp_server, EMAIL)
    accounts = app.state.wiring.accounts
    asked_at = time.time()

    accounts.clock = lambda: asked_at + 30 * 60 + 1
    late = await http.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD})
    accounts.clock = lambda: asked_at + 29 * 60
    in_time = await http.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD})

    assert (late.status_code, late.json()) == (400, INVALID_RESET)
    assert in_time.status_code == 200


async def test_an_unknown_address_is_answered_alike_and_mailed_that_it_has_no_account(
    http: httpx.AsyncClient, session: str, smtp_server: SmtpServer
) -> None:
    known = await http.post(RESET, json={"email": EMAIL})
    unknown = await http.post(RESET, json={"email": "nobody@example.com"})

    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json()) == (202, {})
    assert known.headers.keys() - {"x-request-id"} == unknown.headers.keys() - {"x-request-id"}
    [message] = await wait_until(
        lambda: [m for m in smtp_server.messages() if m["To"] == "nobody@example.com"],
        message="the mail to the unknown address",
    )
    assert message["Subject"] == "No TixVibe account for this address"
    assert "token=" not in message.as_string()


@pytest.mark.parametrize(
    "token",
    [
        "A" * 43,  # the shape of a token, guessed
        "A" * 42,
        "not a token at all",
        "%00" * 10,
    ],
)
async def test_a_guessed_or_malformed_token_is_refused(
    http: httpx.AsyncClient, session: str, token: str
) -> None:
    response = await http.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD})

    assert (response.status_code, response.json()) == (400, INVALID_RESET)
    kept = await http.post("/api/users/signin", json={"email": EMAIL, "password": PASSWORD})
    assert kept.status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": NEW_PASSWORD}, "token"),
        ({"token": "", "password": NEW_PASSWORD}, "token"),
        ({"token": "x" * 257, "password": NEW_PASSWORD}, "token"),
        ({"token": "x" * 43}, "password"),
        ({"token": "x" * 43, "password": "short"}, "password"),
    ],
)
async def test_a_confirmation_that_is_not_valid_is_a_validation_error(
    http: httpx.AsyncClient, body: dict[str, str], field: str
) -> None:
    response = await http.post(CONFIRM, json=body)

    assert response.status_code == 400
    assert [e.get("field") for e in response.json()["errors"]] == [field]


async def test_a_too_short_password_leaves_the_link_usable(
    http: httpx.AsyncClient, session: str, smtp_server: SmtpServer
) -> None:
    await http.post(RESET, json={"email": EMAIL})
    token = await mailed_link(smtp_server, EMAIL)

    short = await http.post(CONFIRM, json={"token": token, "password": "short"})
    good = await http.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD})

    assert short.status_code == 400
    assert good.status_code == 200


async def test_asking_is_limited_per_email_and_per_address(
    http: httpx.AsyncClient, session: str
) -> None:
    answers = [(await http.post(RESET, json={"email": EMAIL})).status_code for _ in range(4)]
    assert answers == [202, 202, 202, 429]
    assert int((await http.post(RESET, json={"email": EMAIL})).headers["retry-after"]) > 0

    # Other addresses from the same client, up to the address's limit (8; 3 counted: a
    # refused request is not).
    others = [
        (await http.post(RESET, json={"email": f"other{n}@example.com"})).status_code
        for n in range(6)
    ]
    assert others == [202] * 5 + [429]


async def test_the_token_is_never_stored_logged_or_put_on_the_bus(
    http: httpx.AsyncClient,
    session: str,
    smtp_server: SmtpServer,
    mongo: AsyncMongoClient[Any],
    database_name: str,
    caplog: pytest.LogCaptureFixture,
    bus_messages: list[bytes],
) -> None:
    caplog.set_level(logging.DEBUG)
    await http.post(RESET, json={"email": EMAIL})
    token = await mailed_link(smtp_server, EMAIL)
    assert (await http.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD})).is_success
    await wait_until(lambda: bus_messages, message="the revocation event")

    stored = [
        document
        async for name in _collections(mongo, database_name)
        async for document in mongo[database_name][name].find()
    ]
    assert stored
    assert token not in repr(stored)
    assert all(token not in record.getMessage() for record in caplog.records)
    assert all(token not in repr(record.__dict__) for record in caplog.records)
    assert all(token.encode() not in message for message in bus_messages)


async def _collections(mongo: AsyncMongoClient[Any], database: str) -> AsyncIterator[str]:
    for name in await mongo[database].list_collection_names():
        yield name


@pytest.fixture
async def bus_messages(bus: EventBus) -> AsyncIterator[list[bytes]]:
    """Every message on the test's namespace while the test runs, as bytes."""
    heard: list[bytes] = []

    async def keep(message: Any) -> None:
        heard.append(message.data + repr(message.headers).encode())

    subscription = await bus.nc.subscribe(bus.subject(">"), cb=keep)
    yield heard
    await subscription.unsubscribe()


async def test_a_password_change_needs_the_current_password_and_ends_other_sessions(
    http: httpx.AsyncClient, session: str
) -> None:
    other = await another_session(http)

    wrong = await http.post(
        CHANGE,
        json={"currentPassword": "not it at all", "newPassword": NEW_PASSWORD},
        headers=bearer(session),
    )
    assert (wrong.status_code, wrong.json()) == (
        400,
        {"errors": [{"message": "Invalid credentials", "field": "currentPassword"}]},
    )
    assert await who(http, other) is not None  # a refused change ends nothing

    changed = await http.post(
        CHANGE,
        json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
        headers=bearer(session),
    )
    assert changed.status_code == 200
    fresh = changed.cookies["session"]
    http.cookies.clear()
    await signed_out(http, other)
    await signed_out(http, session)
    assert (await who(http, fresh))["email"] == EMAIL
    signin = await http.post("/api/users/signin", json={"email": EMAIL, "password": NEW_PASSWORD})
    assert signin.status_code == 200


async def test_a_password_change_is_validated_and_needs_a_session(
    http: httpx.AsyncClient, session: str
) -> None:
    anonymous = await http.post(
        CHANGE, json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}
    )
    short = await http.post(
        CHANGE, json={"currentPassword": PASSWORD, "newPassword": "short"}, headers=bearer(session)
    )

    assert (anonymous.status_code, anonymous.json()) == (
        401,
        {"errors": [{"message": "Not authorized"}]},
    )
    assert short.status_code == 400
    assert [e["field"] for e in short.json()["errors"]] == ["newPassword"]
    assert await who(http, session) is not None


async def test_guessing_the_current_password_is_limited(
    http: httpx.AsyncClient, session: str
) -> None:
    answers = [
        (
            await http.post(
                CHANGE,
                json={"currentPassword": f"guess number {n}", "newPassword": NEW_PASSWORD},
                headers=bearer(session),
            )
        ).status_code
        for n in range(4)
    ]

    assert answers == [400, 400, 400, 429]  # SIGNIN_MAX_FAILURES_PER_EMAIL is 3 here


async def test_signing_out_everywhere_ends_every_session_and_a_new_one_works(
    http: httpx.AsyncClient, session: str
) -> None:
    other = await another_session(http)

    response = await http.post(EVERYWHERE, headers=bearer(session))

    assert (response.status_code, response.json()) == (200, {})
    assert "Max-Age=0" in response.headers["set-cookie"]
    await signed_out(http, session)
    await signed_out(http, other)
    # At once, in the same second: the new session starts at the account's line.
    again = await http.post("/api/users/signin", json={"email": EMAIL, "password": PASSWORD})
    assert await who(http, again.cookies["session"]) is not None
    anonymous = await http.post(EVERYWHERE, headers=bearer(session))
    assert anonymous.status_code == 401


async def test_a_restarted_process_refuses_sessions_ended_while_it_was_away(
    auth_env: dict[str, str], session: str, http: httpx.AsyncClient
) -> None:
    """It reads the revocations back before it answers (tixcommon.revocations)."""
    assert (await http.post(EVERYWHERE, headers=bearer(session))).status_code == 200

    async with serve_app(create_app(load_settings(AuthSettings))) as later:
        first = await later.get(ME, headers=bearer(session))

    assert first.json() == {"currentUser": None}
