from __future__ import annotations

import httpx
import pytest

from tixtest import metric

SIGNIN = "/api/users/signin"
INVALID = {"errors": [{"message": "Invalid credentials"}]}


@pytest.fixture
async def account(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.post(
        "/api/users/signup", json={"email": "carol@example.com", "password": "password1"}
    )
    assert response.status_code == 201
    client.cookies.clear()
    return {"id": response.json()["id"], "email": "carol@example.com", "password": "password1"}


async def test_signin_with_valid_credentials_sets_session(
    client: httpx.AsyncClient, account: dict[str, str]
) -> None:
    response = await client.post(
        SIGNIN, json={"email": "Carol@Example.com", "password": account["password"]}
    )

    assert response.status_code == 200
    assert response.json() == {"id": account["id"], "email": account["email"]}
    assert "HttpOnly" in response.headers["set-cookie"]
    me = await client.get("/api/users/currentuser")
    assert me.json()["currentUser"]["id"] == account["id"]


async def test_wrong_password_and_unknown_email_get_the_same_answer(
    client: httpx.AsyncClient, account: dict[str, str]
) -> None:
    wrong = await client.post(SIGNIN, json={"email": account["email"], "password": "nopenope"})
    unknown = await client.post(
        SIGNIN, json={"email": "nobody@example.com", "password": "password1"}
    )

    assert (wrong.status_code, wrong.json()) == (400, INVALID)
    assert (unknown.status_code, unknown.json()) == (400, INVALID)
    assert "set-cookie" not in wrong.headers
    assert "set-cookie" not in unknown.headers


async def test_signin_requires_email_and_password(client: httpx.AsyncClient) -> None:
    response = await client.post(SIGNIN, json={"email": "", "password": ""})

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"message": "Email must be valid", "field": "email"},
        {"message": "You must supply a password", "field": "password"},
    ]


async def test_repeated_failures_for_one_email_are_rate_limited(
    client: httpx.AsyncClient, account: dict[str, str]
) -> None:
    # The test configuration allows 3 failures per email per window.
    failures, refusals = (
        metric("tixvibe_signin_failures_total"),
        metric("tixvibe_rate_limit_refusals_total"),
    )
    for _ in range(3):
        response = await client.post(
            SIGNIN, json={"email": account["email"], "password": "bad-guess"}
        )
        assert response.status_code == 400

    limited = await client.post(
        SIGNIN, json={"email": account["email"], "password": account["password"]}
    )

    assert limited.status_code == 429
    assert limited.json() == {"errors": [{"message": "Too many attempts, try again later"}]}
    assert int(limited.headers["retry-after"]) > 0
    assert "set-cookie" not in limited.headers
    assert metric("tixvibe_signin_failures_total") == failures + 3
    assert metric("tixvibe_rate_limit_refusals_total") == refusals + 1


async def test_rate_limit_per_email_does_not_lock_out_other_accounts(
    client: httpx.AsyncClient, account: dict[str, str]
) -> None:
    for _ in range(3):
        await client.post(SIGNIN, json={"email": account["email"], "password": "bad-guess"})
    await client.post(
        "/api/users/signup", json={"email": "dan@example.com", "password": "password1"}
    )

    other = await client.post(SIGNIN, json={"email": "dan@example.com", "password": "password1"})

    assert other.status_code == 200


async def test_many_failures_from_one_address_are_rate_limited(
    client: httpx.AsyncClient, account: dict[str, str]
) -> None:
    # 6 failures per address per window in the test configuration, spread over many emails.
    headers = {"X-Forwarded-For": "203.0.113.7"}
    for n in range(6):
        response = await client.post(
            SIGNIN, json={"email": f"guess{n}@example.com", "password": "x"}, headers=headers
        )
        assert response.status_code == 400

    limited = await client.post(
        SIGNIN, json={"email": account["email"], "password": account["password"]}, headers=headers
    )
    elsewhere = await client.post(
        SIGNIN,
        json={"email": account["email"], "password": account["password"]},
        headers={"X-Forwarded-For": "198.51.100.1"},
    )

    assert limited.status_code == 429
    assert elsewhere.status_code == 200


async def test_spoofed_forwarded_for_entries_do_not_escape_the_address_limit(
    client: httpx.AsyncClient,
) -> None:
    # The router appends the real address last; anything the client wrote before it is ignored.
    for n in range(6):
        await client.post(
            SIGNIN,
            json={"email": f"spoof{n}@example.com", "password": "x"},
            headers={"X-Forwarded-For": f"10.0.0.{n}, 203.0.113.9"},
        )

    limited = await client.post(
        SIGNIN,
        json={"email": "spoof@example.com", "password": "x"},
        headers={"X-Forwarded-For": "10.9.9.9, 203.0.113.9"},
    )

    assert limited.status_code == 429


async def test_successful_signin_clears_the_email_failure_count(
    client: httpx.AsyncClient, account: dict[str, str]
) -> None:
    for _ in range(2):
        await client.post(SIGNIN, json={"email": account["email"], "password": "bad-guess"})
    ok = await client.post(
        SIGNIN, json={"email": account["email"], "password": account["password"]}
    )
    for _ in range(2):
        await client.post(SIGNIN, json={"email": account["email"], "password": "bad-guess"})

    still_ok = await client.post(
        SIGNIN, json={"email": account["email"], "password": account["password"]}
    )

    assert ok.status_code == 200
    assert still_ok.status_code == 200
