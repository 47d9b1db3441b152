from __future__ import annotations

import asyncio

import httpx

from tixcommon.auth import SESSION_COOKIE

SIGNUP = "/api/users/signup"


async def test_signup_creates_account_and_sets_session_cookie(client: httpx.AsyncClient) -> None:
    response = await client.post(SIGNUP, json={"email": "Ann@Example.com", "password": "password1"})

    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "ann@example.com"
    assert len(body["id"]) == 24
    assert set(body) == {"id", "email"}
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "Path=/" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie


async def test_signup_over_https_router_sets_secure_cookie(client: httpx.AsyncClient) -> None:
    response = await client.post(
        SIGNUP,
        json={"email": "sec@example.com", "password": "password1"},
        headers={"X-Forwarded-Proto": "https"},
    )

    assert response.status_code == 201
    assert "Secure" in response.headers["set-cookie"]


async def test_signup_rejects_invalid_email_with_field(client: httpx.AsyncClient) -> None:
    response = await client.post(SIGNUP, json={"email": "not-an-email", "password": "password1"})

    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": "Email must be valid", "field": "email"}]}


async def test_signup_rejects_short_and_long_passwords(client: httpx.AsyncClient) -> None:
    for password in ("short", "x" * 129):
        response = await client.post(SIGNUP, json={"email": "a@example.com", "password": password})
        assert response.status_code == 400
        assert response.json()["errors"] == [
            {"message": "Password must be between 8 and 128 characters", "field": "password"}
        ]


async def test_signup_reports_every_missing_field(client: httpx.AsyncClient) -> None:
    response = await client.post(SIGNUP, json={})

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"message": "email is required", "field": "email"},
        {"message": "password is required", "field": "password"},
    ]


async def test_signup_with_taken_email_in_any_case_is_refused(client: httpx.AsyncClient) -> None:
    first = await client.post(SIGNUP, json={"email": "bob@example.com", "password": "password1"})
    second = await client.post(SIGNUP, json={"email": "BOB@example.com", "password": "password2"})

    assert first.status_code == 201
    assert second.status_code == 400
    assert second.json() == {"errors": [{"message": "Email in use", "field": "email"}]}
    assert "set-cookie" not in second.headers


async def test_concurrent_signups_with_one_email_create_one_account(
    client: httpx.AsyncClient,
) -> None:
    responses = await asyncio.gather(
        *(
            client.post(SIGNUP, json={"email": "race@example.com", "password": "password1"})
            for _ in range(50)
        )
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses.count(201) == 1
    assert statuses.count(400) == 49
    assert all(
        r.json() == {"errors": [{"message": "Email in use", "field": "email"}]}
        for r in responses
        if r.status_code == 400
    )


async def test_signup_password_is_never_returned_or_stored_plain(
    client: httpx.AsyncClient, mongo: object, database_name: str
) -> None:
    from pymongo import AsyncMongoClient

    assert isinstance(mongo, AsyncMongoClient)
    await client.post(SIGNUP, json={"email": "hash@example.com", "password": "password1"})

    stored = await mongo[database_name]["users"].find_one({"email": "hash@example.com"})
    assert stored is not None
    assert stored["password_hash"].startswith("$argon2id$")
    assert "password1" not in str(stored)
