"""Closed-loop load: N keep-alive connections, each sending its next request as soon as the
last one is answered, for a fixed time."""

from __future__ import annotations

import asyncio
import time

from bench.rawhttp import Connection


async def throughput(
    port: int,
    path: str,
    *,
    method: str = "GET",
    body: object = None,
    headers: dict[str, str] | None = None,
    connections: int = 16,
    seconds: float = 3.0,
    expect: int = 200,
) -> float:
    """Requests answered per second."""
    # Warm up one connection (imports, caches, the first query plan).
    warm = Connection("127.0.0.1", port)
    for _ in range(20):
        reply = await warm.request(method, path, body, headers)
        assert reply.status == expect, (path, reply.status, reply.body[:200])
    await warm.close()
    done = 0
    deadline = time.perf_counter() + seconds

    async def caller() -> None:
        nonlocal done
        conn = Connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                reply = await conn.request(method, path, body, headers)
                assert reply.status == expect, (path, reply.status)
                done += 1
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(connections)))
    return done / (time.perf_counter() - started)


async def latencies(
    port: int,
    path: str,
    *,
    method: str = "GET",
    body: object = None,
    headers: dict[str, str] | None = None,
    count: int = 300,
    expect: int = 200,
) -> list[float]:
    """One caller, one request at a time: each answer's latency in seconds."""
    conn = Connection("127.0.0.1", port)
    samples = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            reply = await conn.request(method, path, body, headers)
            samples.append(time.perf_counter() - started)
            assert reply.status == expect, (path, reply.status, reply.body[:200])
    finally:
        await conn.close()
    return samples
