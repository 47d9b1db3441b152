"""An HTTP client for processes that call on behalf of many users (the gateway, the web client).

httpx keeps every cookie a response sets and sends it with later requests; in a client shared
by every visitor that would hand one user's session to the next. This one keeps none: cookies
travel only as the headers each request is given.
"""

from __future__ import annotations

from http.cookiejar import Cookie, CookieJar
from typing import Any

import httpx


class _ForgetfulJar(CookieJar):
    def set_cookie(self, cookie: Cookie) -> None:
        return

    def extract_cookies(self, response: Any, request: Any) -> None:
        return


def shared_http_client(
    *, timeout: float, connect_timeout: float = 2.0, max_connections: int = 200
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        follow_redirects=False,
        # The jar itself, not httpx.Cookies(jar): the client would copy that into a jar of its own.
        cookies=_ForgetfulJar(),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=50),
    )
