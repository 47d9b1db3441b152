"""The edge every request crosses first: request id, path normalisation, body limit, and the last
line of defence that turns any escaped exception into the contract's error body.

Written as plain ASGI (not BaseHTTPMiddleware) so it neither buffers responses nor breaks
streaming, and so it wraps even Starlette's own error handling.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tixcommon.errors import AppError, PayloadTooLarge
from tixcommon.logging import log_context
from tixcommon.metrics import observe_request
from tixcommon.tracing import note_request_id

logger = logging.getLogger(__name__)

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_QUIET_PATHS = frozenset({"/healthz", "/readyz"})


def normalise_path(path: str) -> str:
    """Case and a trailing slash never change the answer (the contract), so route on one form."""
    return path.lower().rstrip("/") or "/"


def incoming_request_id(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"x-request-id":
            candidate = value.decode("latin-1").strip()
            if _SAFE_REQUEST_ID.match(candidate):
                return candidate
    return new_request_id()


def new_request_id() -> str:
    """A random UUID4, as 32 hex digits. From `random` (reseeded in a forked child), not
    os.urandom as uuid.uuid4 is: a request id is for finding a request, not a secret, and the
    system call was a fifth of what this middleware cost a request."""
    bits = random.getrandbits(128)
    return (bits & _UUID4_CLEAR | _UUID4_SET).to_bytes(16, "big").hex()


# The version (4) and variant (RFC 4122) bits of a UUID4, as uuid.UUID(version=4) sets them.
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def error_response_parts(error: AppError, request_id: str) -> tuple[Message, Message]:
    body = orjson.dumps(error.body().to_json())
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
    ]
    if error.retry_after is not None:
        headers.append((b"retry-after", str(error.retry_after).encode()))
    start: Message = {
        "type": "http.response.start",
        "status": error.status_code,
        "headers": headers,
    }
    return start, {"type": "http.response.body", "body": body}


ErrorRenderer = Callable[[AppError, str], tuple[Message, Message]]
"""Turns an error and the request id into the response's start and body messages."""


class EdgeMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        render_error: ErrorRenderer = error_response_parts,
    ) -> None:
        """`render_error` shapes the errors raised here (the contract's JSON body by default;
        the web client renders pages)."""
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.render_error = render_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = incoming_request_id(scope["headers"])
        path = normalise_path(scope["path"])
        scope = {**scope, "path": path, "raw_path": path.encode()}
        # HEAD is GET without the body (RFC 9110 §9.3.2), wherever GET is answered: the routes
        # see a GET, the client gets its status and headers, the log and metrics say HEAD.
        head = scope["method"] == "HEAD"
        routed = {**scope, "method": "GET"} if head else scope
        state: dict[str, Any] = {"started": False, "status": 500, "too_large": False}
        began = time.perf_counter()

        declared = _content_length(scope["headers"])
        note_request_id(request_id)
        with log_context(request_id=request_id):
            if declared is not None and declared > self.max_body_bytes:
                # Refused before a byte of the body is read.
                await self._send_error(send, PayloadTooLarge(), request_id, state)
                self._log(scope, state, began, scope["method"])
                return

            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body_bytes:
                        state["too_large"] = True
                        raise PayloadTooLarge()
                return message

            async def send_with_request_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    if state["too_large"]:
                        # The framework turned our interruption into its own error; the body was
                        # refused for its size and the client must hear exactly that.
                        state["too_large"] = False
                        await self._send_error(send, PayloadTooLarge(), request_id, state)
                        state["swallow"] = True
                        return
                    state["started"] = True
                    state["status"] = message["status"]
                    message = {
                        **message,
                        "headers": [
                            *message.get("headers", []),
                            (b"x-request-id", request_id.encode()),
                        ],
                    }
                elif state.get("swallow"):
                    return
                elif head and message["type"] == "http.response.body":
                    message = {**message, "body": b""}
                await send(message)

            try:
                await self.app(routed, limited_receive, send_with_request_id)
            except AppError as error:
                if not state["started"]:
                    await self._send_error(send, error, request_id, state)
            except Exception:
                logger.exception("unhandled error", extra={"method": scope["method"], "path": path})
                if not state["started"]:
                    await self._send_error(send, AppError(), request_id, state)
            finally:
                # The route the router matched is in the scope it was given; the method, ours.
                self._log(routed, state, began, scope["method"])

    async def _send_error(
        self, send: Send, error: AppError, request_id: str, state: dict[str, Any]
    ) -> None:
        start, body = self.render_error(error, request_id)
        state["started"] = True
        state["status"] = error.status_code
        await send(start)
        await send(body)

    @staticmethod
    def _log(scope: Scope, state: dict[str, Any], began: float, method: str) -> None:
        seconds = time.perf_counter() - began
        # The router leaves the route it matched in the scope: its template names the series
        # (`path_format`: without a path convertor, `/api/tickets/{ticket_id}`).
        route = scope.get("route")
        template = getattr(route, "path_format", None)
        observe_request(method, template, state["status"], seconds)
        level = logging.DEBUG if scope["path"] in _QUIET_PATHS else logging.INFO
        if logger.isEnabledFor(level):
            logger.log(
                level,
                "request",
                extra={
                    "method": method,
                    "path": scope["path"],
                    "status": state["status"],
                    "duration_ms": round(seconds * 1000, 2),
                },
            )


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
