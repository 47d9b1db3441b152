from __future__ import annotations

import time

import httpx
import jwt

from tixcommon.auth import SESSION_COOKIE
from tixtest import SignedInUser

CURRENT = "/api/users/currentuser"


async def test_currentuser_is_null_when_signed_out(client: httpx.AsyncClient) -> None:
    response = await client.get(CURRENT)

    assert response.status_code == 200
    assert response.json() == {"currentUser": None}


async def test_currentuser_after_signup_has_claims(client: httpx.AsyncClient) -> None:
    signup = await client.post(
        "/api/users/signup", json={"email": "eve@example.com", "password": "password1"}
    )

    response = await client.get(CURRENT)

    claims = response.json()["currentUser"]
    assert claims["id"] == signup.json()["id"]
    assert claims["email"] == "eve@example.com"
    assert claims["exp"] - claims["iat"] == 24 * 3600


async def test_currentuser_accepts_bearer_token(
    client: httpx.AsyncClient, make_user: object
) -> None:
    user: SignedInUser = make_user()  # type: ignore[operator]

    response = await client.get(CURRENT, headers={"Authorization": f"Bearer {user.token}"})

    assert response.json()["currentUser"]["id"] == user.id


async def test_tampered_expired_or_garbage_tokens_mean_signed_out(
    client: httpx.AsyncClient, jwt_key: str
) -> None:
    now = int(time.time())
    expired = jwt.encode(
        {"id": "a" * 24, "email": "x@example.com", "iat": now - 100, "exp": now - 10}, jwt_key
    )
    forged = jwt.encode(
        {"id": "a" * 24, "email": "x@example.com", "iat": now, "exp": now + 100},
        "another-key-that-is-long-enough-for-hs256!",
    )
    for token in (expired, forged, "garbage", ""):
        response = await client.get(CURRENT, headers={"Cookie": f"{SESSION_COOKIE}={token}"})
        assert response.status_code == 200
        assert response.json() == {"currentUser": None}


async def test_signout_clears_the_cookie(client: httpx.AsyncClient) -> None:
    await client.post(
        "/api/users/signup", json={"email": "fay@example.com", "password": "password1"}
    )

    response = await client.post("/api/users/signout")

    assert response.status_code == 200
    assert response.json() == {}
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f'{SESSION_COOKIE}=""') or cookie.startswith(f"{SESSION_COOKIE}=;")
    assert "Max-Age=0" in cookie
    assert (await client.get(CURRENT)).json() == {"currentUser": None}


async def test_routes_ignore_case_and_trailing_slash(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/users/currentUser/")

    assert response.status_code == 200
    assert response.json() == {"currentUser": None}
    assert "location" not in response.headers
