"""A minimal keep-alive HTTP/1.1 client for load generation.

Benchmarks measure our services, not a client library: httpx's pool adds tens of milliseconds
per request at high concurrency and serialises what should race. This speaks just enough
HTTP/1.1 (Content-Length bodies, as our services send) over one connection per caller.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import orjson


class _ClosedBeforeReply(ConnectionError):
    """The server closed the connection with no reply to the request."""


@dataclass
class Reply:
    status: int
    body: bytes

    def json(self) -> object:
        return orjson.loads(self.body)


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: object = None, headers: dict[str, str] | None = None
    ) -> Reply:
        if self._writer is None:
            return await self._exchange(method, path, body, headers)
        try:
            return await self._exchange(method, path, body, headers)
        except (_ClosedBeforeReply, ConnectionResetError, BrokenPipeError):
            # The server closed a connection left idle past its keep-alive (before our request,
            # or while it was on its way: a reset): the request never reached it. Open another.
            # On a fresh connection the same is the server's failure, and raised.
            await self.close()
            return await self._exchange(method, path, body, headers)

    async def _exchange(
        self, method: str, path: str, body: object, headers: dict[str, str] | None
    ) -> Reply:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        assert self._writer is not None
        payload = orjson.dumps(body) if body is not None else b""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if body is not None:
            lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(payload)}")
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        status_line = await self._reader.readline()
        if not status_line:
            raise _ClosedBeforeReply(f"{self.host}:{self.port} closed the connection")
        status = int(status_line.split()[1])
        length = 0
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return Reply(status, await self._reader.readexactly(length) if length else b"")

    async def close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()
            # A connection the server reset is closed already: nothing left to wait for.
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
