"""The client shared by every visitor keeps no visitor's cookies."""

from __future__ import annotations

import httpx

from tixcommon.http_client import shared_http_client


async def test_cookies_set_by_a_response_are_never_sent_again() -> None:
    async with shared_http_client(timeout=5) as client:
        first = client.build_request("GET", "http://127.0.0.1/")
        # What the client does with every response it receives.
        client.cookies.extract_cookies(
            httpx.Response(200, headers={"set-cookie": "session=alice; Path=/"}, request=first)
        )
        later = client.build_request("GET", "http://127.0.0.1/")
        given = client.build_request("GET", "http://127.0.0.1/", headers={"cookie": "session=bob"})

    assert "cookie" not in later.headers
    assert given.headers["cookie"] == "session=bob"
