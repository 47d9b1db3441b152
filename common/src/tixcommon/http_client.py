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
    *, timeout: float, connect_timeout: float = 10.0, max_connections: int = 200
) -> httpx.AsyncClient:
    """`connect_timeout` is generous: a backend that is down refuses the connection at once
    (on loopback and behind a cluster's service alike), so a connect only times out on a host
    too busy to complete it, as when an on-sale's sign-ins keep every core hashing. At 2 s, 3%
    of a burst of 500 sign-ins through `tix dev`'s gateway were 504s that auth would have
    answered."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        follow_redirects=False,
        # The jar itself, not httpx.Cookies(jar): the client would copy that into a jar of its own.
        cookies=_ForgetfulJar(),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=50),
    )
