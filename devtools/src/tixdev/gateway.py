"""The local gateway: one address for the whole platform, routing like the ingress does.

A small ASGI app on httpx: method, path, query, body, cookies and headers go through unchanged
(hop-by-hop headers excepted), `X-Forwarded-For/-Proto/-Host` and `X-Request-Id` are set, and
bodies stream both ways. A backend that is down gets the contract's error body at once.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping

import httpx
import orjson
from starlette.types import Message, Receive, Scope, Send

from tixcommon.http_client import shared_http_client
from tixcommon.route_table import service_for

# Headers that describe one hop, not the request (RFC 9110 7.6.1), plus Host, which httpx sets.
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
    }
)


class Gateway:
    def __init__(self, backends: Mapping[str, str], *, timeout: float = 60.0) -> None:
        """`backends` maps a service name to its base URL (`http://127.0.0.1:3001`)."""
        self.backends = dict(backends)
        self._client = shared_http_client(timeout=timeout)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        service = service_for(scope["path"])
        base = self.backends.get(service)
        request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex
        if base is None:
            await _error(send, 503, f"{service} is not running", request_id)
            return
        url = (
            base + scope["raw_path"].decode("latin-1")
            if scope.get("raw_path")
            else (base + scope["path"])
        )
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        request = self._client.build_request(
            scope["method"],
            url,
            headers=self._forward_headers(scope, request_id),
            content=_body(receive) if _has_body(scope) else None,
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.ConnectError:
            await _error(send, 503, f"{service} is unavailable, try again shortly", request_id)
            return
        except httpx.TimeoutException:
            await _error(send, 504, f"{service} did not answer in time", request_id)
            return
        except httpx.LocalProtocolError:
            await _error(send, 400, "Malformed request", request_id)
            return
        except httpx.HTTPError:
            await _error(send, 502, f"{service} gave a bad answer", request_id)
            return
        try:
            headers = [
                (name.lower(), value)
                for name, value in response.headers.raw
                if name.lower() not in _HOP_BY_HOP - {b"content-length"}
            ]
            await send(
                {"type": "http.response.start", "status": response.status_code, "headers": headers}
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()

    def _forward_headers(self, scope: Scope, request_id: str) -> list[tuple[bytes, bytes]]:
        # A value's surrounding whitespace is not part of it (RFC 9110 5.5), and httpx refuses
        # to send a value that has some.
        headers = [
            (name, value.strip(b" \t"))
            for name, value in scope["headers"]
            if name not in _HOP_BY_HOP and name != b"x-request-id"
        ]
        client = scope.get("client")
        peer = client[0] if client else "unknown"
        forwarded_for = _header(scope, b"x-forwarded-for")
        headers = [(n, v) for n, v in headers if not n.startswith(b"x-forwarded-")]
        headers += [
            (
                b"x-forwarded-for",
                f"{forwarded_for}, {peer}".encode() if forwarded_for else peer.encode(),
            ),
            (
                b"x-forwarded-proto",
                (_header(scope, b"x-forwarded-proto") or scope["scheme"]).encode(),
            ),
            (b"x-forwarded-host", (_header(scope, b"host") or "").encode()),
            (b"x-request-id", request_id.encode()),
        ]
        return headers

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _has_body(scope: Scope) -> bool:
    return scope["method"] not in {"GET", "HEAD", "OPTIONS"} or any(
        name in {b"content-length", b"transfer-encoding"} for name, _ in scope["headers"]
    )


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message: Message = await receive()
        if message["type"] != "http.request":
            return
        if chunk := message.get("body", b""):
            yield chunk
        if not message.get("more_body", False):
            return


async def _error(send: Send, status: int, message: str, request_id: str) -> None:
    body = orjson.dumps({"errors": [{"message": message}]})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
