"""Closed-loop load: N keep-alive connections, each sending its next request as soon as the
last one is answered, for a fixed time; and the CPU the processes serving it spent per request
(from /proc: user + system time), the steadiest figure on a shared machine."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.rawhttp import Connection

_TICKS = os.sysconf("SC_CLK_TCK")

Headers = dict[str, str]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    # After the command name (which may hold spaces), fields 14 and 15 of /proc/<pid>/stat.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


@dataclass(frozen=True)
class Load:
    requests: int
    seconds: float
    cpu: Mapping[str, float]  # seconds of CPU per measured process, over the run

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def cpu_ms_per_request(self) -> float:
        """Milliseconds of CPU per request, summed over the measured processes."""
        return sum(self.cpu.values()) * 1000 / max(self.requests, 1)


async def load(
    port: int,
    path: str,
    *,
    method: str = "GET",
    body: object = None,
    bodies: Callable[[], object] | None = None,
    headers: Headers | Sequence[Headers] | None = None,
    connections: int = 16,
    seconds: float = 3.0,
    expect: int = 200,
    measure: Mapping[str, int] | None = None,
) -> Load:
    """Requests answered in `seconds`, and the CPU that the `measure`d processes (name -> pid)
    spent meanwhile. `bodies` makes each request's body (one sign-up each); a sequence of
    `headers` is taken in turn (a different session each)."""
    rotation = itertools.cycle(
        [headers or {}] if headers is None or isinstance(headers, dict) else headers
    )

    def next_body() -> object:
        return bodies() if bodies is not None else body

    # Warm up one connection (imports, caches, the first query plan).
    warm = Connection("127.0.0.1", port)
    for _ in range(20):
        reply = await warm.request(method, path, next_body(), next(rotation))
        assert reply.status == expect, (path, reply.status, reply.body[:200])
    await warm.close()
    done = 0
    deadline = time.perf_counter() + seconds

    async def caller() -> None:
        nonlocal done
        conn = Connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                reply = await conn.request(method, path, next_body(), next(rotation))
                assert reply.status == expect, (path, reply.status, reply.body[:200])
                done += 1
        finally:
            await conn.close()

    pids = dict(measure or {})
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    spent = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
    return Load(done, elapsed, spent)


async def each_once(
    port: int, path: str, headers: Sequence[Headers], *, connections: int = 16, expect: int = 200
) -> None:
    """Every one of `headers` sent once, unmeasured: a figure taken after it is of sessions in
    rotation, not of each session's first request."""
    remaining = iter(headers)

    async def caller() -> None:
        conn = Connection("127.0.0.1", port)
        try:
            for sent in remaining:  # shared: each header goes out on one connection only
                reply = await conn.request("GET", path, None, sent)
                assert reply.status == expect, (path, reply.status, reply.body[:200])
        finally:
            await conn.close()

    await asyncio.gather(*(caller() for _ in range(connections)))


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
