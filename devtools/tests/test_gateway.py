"""The gateway in front of real servers: routing, forwarding, streaming, and dead backends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from auth.app import create_app as create_auth
from auth.settings import AuthSettings
from tixcommon.route_table import ROUTES, service_for
from tixcommon.settings import load_settings
from tixdev.gateway import Gateway
from tixtest import dependencies_opened, free_port, wait_until


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """A backend that answers with what it received, to see what the gateway forwards."""
    if scope["type"] != "http":
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = orjson.dumps(
        {
            "method": scope["method"],
            "path": scope["path"],
            "query": scope["query_string"].decode(),
            "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
            "size": size,
        }
    )
    await send({"type": "http.response.start", "status": 200, "headers": [(b"set-cookie", b"a=1")]})
    await send({"type": "http.response.body", "body": body})


Serve = Callable[[Any], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Runs ASGI apps under a real uvicorn on free ports; yields their base URLs."""
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(app: Any) -> str:
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
        )
        task = asyncio.create_task(server.serve())
        servers.append((server, task))
        await wait_until(lambda: server.started, message="backend listening")
        await dependencies_opened(app)
        return f"http://127.0.0.1:{port}"

    yield start
    for server, task in servers:
        server.should_exit = True
        await task


async def through(gateway: Gateway) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway, client=("198.51.100.7", 5555)),
        base_url="http://tixvibe.local",
    )


def test_routing_table_sends_each_prefix_to_its_service() -> None:
    assert [service_for(prefix) for prefix, _ in ROUTES] == [s for _, s in ROUTES]
    assert service_for("/API/Users/currentUser/") == "auth"
    assert service_for("/api/tickets/abc") == "tickets"
    assert service_for("/api/usersx") == "client"
    assert service_for("/") == "client"
    assert service_for("/orders/123") == "client"


async def test_requests_reach_their_service_with_everything_forwarded(serve: Serve) -> None:
    backend = await serve(echo)
    gateway = Gateway({"tickets": backend})
    async with await through(gateway) as client:
        response = await client.put(
            "/api/tickets/abc?x=1&y=2",
            content=b"{}",
            headers={"Cookie": "session=s", "X-Request-Id": "req-1", "Content-Type": "a/b"},
        )
    await gateway.aclose()

    seen = response.json()
    assert (seen["method"], seen["path"], seen["query"]) == ("PUT", "/api/tickets/abc", "x=1&y=2")
    assert seen["headers"]["cookie"] == "session=s"
    assert seen["headers"]["content-type"] == "a/b"
    assert seen["headers"]["x-request-id"] == "req-1"
    assert seen["headers"]["x-forwarded-for"] == "198.51.100.7"
    assert seen["headers"]["x-forwarded-proto"] == "http"
    assert seen["headers"]["x-forwarded-host"] == "tixvibe.local"
    assert response.headers["set-cookie"] == "a=1"


async def test_a_header_with_surrounding_whitespace_goes_through_without_it(
    serve: Serve,
) -> None:
    # A client's "Bearer " (nothing after it): httpx refuses to send such a value, which once
    # made the gateway answer 502 as if the service had failed.
    backend = await serve(echo)
    gateway = Gateway({"orders": backend})
    async with await through(gateway) as client:
        response = await client.get("/api/orders", headers={"Authorization": " Bearer \t"})
    await gateway.aclose()

    assert response.status_code == 200
    assert response.json()["headers"]["authorization"] == "Bearer"


async def test_large_bodies_stream_through(serve: Serve) -> None:
    backend = await serve(echo)
    gateway = Gateway({"orders": backend})

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(32):
            yield b"x" * 65536

    async with await through(gateway) as client:
        response = await client.post("/api/orders", content=chunks())
    await gateway.aclose()

    assert response.json()["size"] == 32 * 65536


async def test_a_real_service_works_through_the_gateway(
    serve: Serve, service_env: dict[str, str], mail_env: dict[str, str]
) -> None:
    auth = await serve(create_auth(load_settings(AuthSettings)))
    gateway = Gateway({"auth": auth})
    async with await through(gateway) as client:
        signup = await client.post(
            "/api/users/signup", json={"email": "gw@example.com", "password": "password1"}
        )
        me = await client.get("/api/users/currentuser")
    await gateway.aclose()

    assert signup.status_code == 201
    assert "session=" in signup.headers["set-cookie"]
    assert me.json()["currentUser"]["email"] == "gw@example.com"
    assert me.headers["x-request-id"]


async def test_a_dead_backend_gets_the_error_body_at_once() -> None:
    gateway = Gateway({"auth": f"http://127.0.0.1:{free_port()}"})
    async with await through(gateway) as client:
        started = time.monotonic()
        down = await client.get("/api/users/currentuser", headers={"X-Request-Id": "r-9"})
        absent = await client.get("/")
    await gateway.aclose()

    assert time.monotonic() - started < 3
    assert (down.status_code, down.json()) == (
        503,
        {"errors": [{"message": "auth is unavailable, try again shortly"}]},
    )
    assert down.headers["x-request-id"] == "r-9"
    assert (absent.status_code, absent.json()) == (
        503,
        {"errors": [{"message": "client is not running"}]},
    )
