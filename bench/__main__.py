"""Every benchmark in one run, each figure beside its floor measured in the same run:

    .venv/bin/python -m bench          (make bench)

The services run as in production (separate uvicorn processes on real servers, 127.0.0.1); the
floors are bench/floor_app.py (a bare FastAPI app doing the same work the least way possible)
and raw JetStream round trips. Load comes from bench/rawhttp.py over keep-alive connections.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import nats
from bson import ObjectId
from nats.js.api import StreamConfig
from pymongo import AsyncMongoClient

from bench.load import latencies, throughput
from bench.report import Figure, p50, p99, table
from bench.saga import expiration_lateness, lateness_figures, payment_to_complete
from bench.stack import Stack, resident_mib, running_floor, running_services
from bench.tickets_orders import contention, cookie, propagation
from tixcommon.bus import EventBus
from tixtest import consumers_idle, wait_until

SERVICES = ("auth", "tickets", "orders", "payments")


async def jetstream_round_trips(nats_url: str, count: int) -> list[float]:
    """Publish (with its ack) until a subscriber has the message: JetStream's own latency."""
    connection = await nats.connect(nats_url)
    js = connection.jetstream()
    await js.add_stream(StreamConfig(name="BENCH_FLOOR", subjects=["bench-floor.>"]))
    subscription = await js.subscribe("bench-floor.latency")
    samples = []
    for index in range(count):
        started = time.perf_counter()
        await js.publish("bench-floor.latency", str(index).encode())
        message = await subscription.next_msg(timeout=5)
        samples.append(time.perf_counter() - started)
        await message.ack()
    await connection.drain()
    return samples


async def seed_listing(stack: Stack, count: int) -> None:
    """Exactly `count` tickets for sale, written as the tickets service stores them."""
    collection = AsyncMongoClient[Any](stack.mongo_url)["tickets"]["tickets"]
    await collection.delete_many({})
    seller = uuid.uuid4().hex[:24]
    if count:
        await collection.insert_many(
            [
                {
                    "_id": ObjectId(),
                    "title": f"Show {n}",
                    "price_cents": 1050 + 100 * n,
                    "user_id": seller,
                    "version": 0,
                    "order_id": None,
                }
                for n in range(count)
            ]
        )


async def http_figures(stack: Stack, floor_port: int, seconds: float) -> list[Figure]:
    figures = []
    signed_in = cookie(stack.codec)
    ours = await throughput(
        stack.ports["auth"], "/api/users/currentuser", headers=signed_in, seconds=seconds
    )
    bare = await throughput(floor_port, "/bare", seconds=seconds)
    figures.append(
        Figure("GET /api/users/currentuser (signed in)", ours, "req/s", bare,
               "bare FastAPI JSON endpoint", higher_is_better=True)
    )  # fmt: skip
    for count in (10, 100, 1000):
        await seed_listing(stack, count)
        ours = await throughput(stack.ports["tickets"], "/api/tickets", seconds=seconds)
        raw = await throughput(floor_port, "/tickets", seconds=seconds)
        figures.append(
            Figure(f"GET /api/tickets, {count} for sale", ours, "req/s", raw,
                   "raw PyMongo + orjson endpoint", higher_is_better=True)
        )  # fmt: skip
    await seed_listing(stack, 0)
    body = {"title": "Bench", "price": 10}
    ours_latency = await latencies(
        stack.ports["tickets"], "/api/tickets", method="POST", body=body,
        headers=signed_in, expect=201,
    )  # fmt: skip
    floor_latency = await latencies(floor_port, "/tickets", method="POST", body=body, expect=201)
    figures.append(
        Figure("POST /api/tickets (stored + durably published), p50", p50(ours_latency) * 1000,
               "ms", p50(floor_latency) * 1000, "one DB write + one JetStream publish-ack")
    )  # fmt: skip
    ours_rate = await throughput(
        stack.ports["tickets"], "/api/tickets", method="POST", body=body,
        headers=signed_in, seconds=seconds, expect=201,
    )  # fmt: skip
    floor_rate = await throughput(
        floor_port, "/tickets", method="POST", body=body, seconds=seconds, expect=201
    )
    figures.append(
        Figure("POST /api/tickets, 16 clients", ours_rate, "req/s", floor_rate,
               "one DB write + one JetStream publish-ack", higher_is_better=True)
    )  # fmt: skip
    return figures


async def quiet(stack: Stack) -> None:
    """Until every listener has handled every event so far: latency figures are taken on a
    quiet system, not behind the backlog an earlier run left in the stream."""
    bus = await EventBus.connect(stack.nats_url, client_name="bench-quiet")
    durables = [c.name for c in await bus.js.consumers_info(bus.stream_name) if c.name]

    client = AsyncMongoClient[Any](stack.mongo_url)

    async def idle() -> bool:
        outboxes = [await client[s]["outbox"].count_documents({}) for s in SERVICES]
        return not any(outboxes) and await consumers_idle(bus, *durables)

    await wait_until(idle, timeout=120, message="every event published and handled")
    await client.close()
    await bus.close()


def memory_figures(stack: Stack, floor: float, when: str) -> list[Figure]:
    return [
        Figure(f"resident memory of {name}, {when}", resident_mib(pid), "MiB",
               floor, "a bare FastAPI process")
        for name, pid in stack.pids.items()
    ]  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as logs:
        with (
            running_services(*SERVICES, log_dir=Path(logs)) as stack,
            running_floor(stack, Path(logs)) as floor,
        ):
            bare = resident_mib(floor.process.pid)
            figures += memory_figures(stack, bare, "at rest")
            figures += await http_figures(stack, floor.port, args.seconds)
            await quiet(stack)
            hops = await jetstream_round_trips(stack.nats_url, args.events)
            listed = await propagation(stack, args.events)
            await quiet(stack)
            paid = await payment_to_complete(stack, args.payments)
            await quiet(stack)
            jet50, jet99 = p50(hops) * 1000, p99(hops) * 1000
            figures += [
                Figure("ticket listed -> orderable in orders, p50", p50(listed) * 1000, "ms",
                       jet50, "JetStream publish -> consume, p50"),
                Figure("ticket listed -> orderable in orders, p99", p99(listed) * 1000, "ms",
                       jet99, "JetStream publish -> consume, p99"),
                Figure("payment returned -> order complete, p50", p50(paid) * 1000, "ms",
                       jet50, "JetStream publish -> consume, p50"),
                Figure("payment returned -> order complete, p99", p99(paid) * 1000, "ms",
                       jet99, "JetStream publish -> consume, p99"),
            ]  # fmt: skip
            figures += await contention(stack, args.rounds, args.buyers)
            figures += memory_figures(stack, resident_mib(floor.process.pid), "after load")
        with running_services("expiration", "expiration.worker", log_dir=Path(logs)) as clock:
            figures += memory_figures(clock, bare, "at rest")
            figures += lateness_figures(await expiration_lateness(clock, args.orders))
            figures += memory_figures(clock, bare, "after 500 expiries")
    print(table(figures))  # noqa: T201


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="per throughput figure")
    parser.add_argument("--events", type=int, default=200, help="propagation samples")
    parser.add_argument("--payments", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--buyers", type=int, default=100)
    parser.add_argument("--orders", type=int, default=500, help="orders expiring in 1 s")
    asyncio.run(main(parser.parse_args()))
