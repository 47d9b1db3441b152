"""The client shared by every visitor keeps no visitor's cookies."""

from __future__ import annotations

import httpx

from tixcommon.http_client import shared_http_client


async def test_cookies_set_by_a_response_are_never_sent_again() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"set-cookie": "session=alice; Path=/"})

    async with shared_http_client(timeout=5) as client:
        client._transport = httpx.MockTransport(handler)
        first = await client.get("http://127.0.0.1/")
        await client.get("http://127.0.0.1/")
        await client.get("http://127.0.0.1/", headers={"cookie": "session=bob"})

    assert first.headers["set-cookie"] == "session=alice; Path=/"
    assert seen == [None, None, "session=bob"]
