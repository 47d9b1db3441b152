"""The documents name the sessions a protected route takes: either the session cookie or the
same token as a bearer, with the 401 a route answers without one; and what a 403 means."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from tixcommon.auth import RequireUser
from tixcommon.errors import Forbidden
from tixcommon.openapi import contract_openapi, refusals
from tixcommon.routers import service_router


def document() -> dict[str, Any]:
    router = service_router("/api/widgets")

    @router.get("/mine")
    async def my_widgets(user: RequireUser) -> list[str]:
        return [user.id]

    @router.get("")
    async def all_widgets() -> list[str]:
        return []

    app = FastAPI()
    app.include_router(router)
    return contract_openapi(app)


def test_a_route_requiring_a_session_takes_the_cookie_or_a_bearer_token() -> None:
    operation = document()["paths"]["/api/widgets/mine"]["get"]

    assert operation["security"] == [{"session": []}, {"bearer": []}]
    assert operation["responses"]["401"]["description"] == "Not signed in, or not the owner"


def test_a_route_open_to_anyone_takes_no_session() -> None:
    operation = document()["paths"]["/api/widgets"]["get"]

    assert "security" not in operation
    assert "401" not in operation["responses"]


def test_the_session_schemes_are_described_once() -> None:
    assert document()["components"]["securitySchemes"] == {
        "session": {
            "type": "apiKey",
            "in": "cookie",
            "name": "session",
            "description": "The session cookie that signing up or in sets",
        },
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "The session cookie's value, sent as a bearer token",
        },
    }


def test_a_route_that_may_forbid_says_what_a_403_means() -> None:
    router = service_router("/api/gates")

    @router.post("", responses=refusals(Forbidden("Join the line first")))
    async def pass_gate(user: RequireUser) -> list[str]:
        return [user.id]

    app = FastAPI()
    app.include_router(router)
    forbidden = contract_openapi(app)["paths"]["/api/gates"]["post"]["responses"]["403"]

    assert forbidden["description"] == "Signed in, but not allowed this, for the reason given"
    assert list(forbidden["content"]["application/json"]["examples"]) == ["Join the line first"]
