"""Every benchmark in one run, each figure beside its floor measured in the same run:

    .venv/bin/python -m bench          (make bench)

The services run as in production (separate uvicorn processes on real servers, 127.0.0.1); the
floors are bench/floor_app.py (a bare FastAPI app doing the same work the least way possible)
and raw JetStream round trips. Load comes from bench/rawhttp.py over keep-alive connections.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nats
from nats.js.api import StreamConfig
from pwdlib.hashers.argon2 import Argon2Hasher
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from auth.passwords import ARGON2_MEMORY_KIB, ARGON2_PARALLELISM, ARGON2_TIME_COST
from bench.catalogue import catalogue_figures, queries_per_request, served_figures
from bench.load import Load, cpu_seconds, each_once, latencies, load
from bench.onsale import ONSALE_ENV, onsale_figures
from bench.passes import door_figures
from bench.rawhttp import Connection
from bench.report import Figure, cpu_figure, p50, p99, rate_figure, table
from bench.saga import expiration_lateness, lateness_figures, payment_to_complete
from bench.stack import RunningService, Stack, resident_mib, running_floor, running_services
from bench.tickets_orders import contention, cookie, propagation
from tixcommon.bus import EventBus
from tixcommon.cpu import usable_cpus
from tixcommon.tracing import SPANS_DIR_VARIABLE
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


def one_hash_cpu_seconds(samples: int = 20) -> float:
    """CPU time of one password verification with auth's parameters, measured here."""
    hasher = Argon2Hasher(
        time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM
    )
    password_hash = hasher.hash("bench password")
    started = time.process_time()
    for _ in range(samples):
        hasher.verify("bench password", password_hash)
    return (time.process_time() - started) / samples


async def session_figures(stack: Stack, floor: RunningService, seconds: float) -> list[Figure]:
    auth, bare_name = stack.ports["auth"], "bare FastAPI JSON endpoint"
    measured = {"auth": stack.pids["auth"]}
    bare = await load(floor.port, "/bare", seconds=seconds, measure={"floor": floor.process.pid})
    one = await load(
        auth, "/api/users/currentuser", headers=cookie(stack.codec), seconds=seconds,
        measure=measured,
    )  # fmt: skip
    # More sessions than the verified-token cache once held (4,096): each one's first request
    # in the run is verified, the ones after it are found in the cache.
    many = await load(
        auth, "/api/users/currentuser", headers=[cookie(stack.codec) for _ in range(5000)],
        seconds=seconds, measure=measured,
    )  # fmt: skip
    # More than a run's requests: each asked once first, so this is 20,000 in rotation.
    sessions = [cookie(stack.codec) for _ in range(20_000)]
    await each_once(auth, "/api/users/currentuser", sessions)
    most = await load(
        auth, "/api/users/currentuser", headers=sessions, seconds=seconds, measure=measured
    )
    return [
        rate_figure("GET /api/users/currentuser, one session", one, bare.rate, bare_name),
        cpu_figure("GET /api/users/currentuser, one session", one, bare, bare_name),
        rate_figure("GET /api/users/currentuser, 5,000 sessions", many, bare.rate, bare_name),
        cpu_figure("GET /api/users/currentuser, 5,000 sessions", many, bare, bare_name),
        rate_figure("GET /api/users/currentuser, 20,000 sessions", most, bare.rate, bare_name),
        cpu_figure("GET /api/users/currentuser, 20,000 sessions", most, bare, bare_name),
        *await protected_route_figures(stack, seconds),
    ]


async def protected_route_figures(stack: Stack, seconds: float) -> list[Figure]:
    """A route of another service that requires a session (`GET /api/orders`: one find of the
    caller's orders, none here), with 5,000 sessions in rotation against one session: what the
    session check adds to every authenticated route."""
    orders, path = stack.ports["orders"], "/api/orders"
    measured = {"orders": stack.pids["orders"], "db": stack.database_pid}
    one_name = "the same, one session"
    one = await load(orders, path, headers=cookie(stack.codec), seconds=seconds, measure=measured)
    sessions = [cookie(stack.codec) for _ in range(5000)]
    await each_once(orders, path, sessions)  # more than a run's requests at this rate
    many = await load(orders, path, headers=sessions, seconds=seconds, measure=measured)
    return [
        rate_figure("GET /api/orders, 5,000 sessions", many, one.rate, one_name),
        cpu_figure("GET /api/orders, 5,000 sessions", many, one, one_name),
    ]


async def password_figures(stack: Stack, seconds: float) -> list[Figure]:
    """Sign-in and sign-up against the hash ceiling: the sign-ins per second the cores auth may
    use could make if hashing were all they did (cores / CPU time of one hash)."""
    auth, measured = stack.ports["auth"], {"auth": stack.pids["auth"], "db": stack.database_pid}
    per_hash = one_hash_cpu_seconds()
    ceiling, ceiling_name = usable_cpus() / per_hash, "hash ceiling: cores / one hash's CPU"
    one_hash = Load(1, per_hash, {"hash": per_hash})
    credentials = {"email": f"bench-{uuid.uuid4().hex[:8]}@example.com", "password": "x" * 12}
    conn = Connection("127.0.0.1", auth)
    reply = await conn.request("POST", "/api/users/signup", credentials)
    assert reply.status == 201, reply.body
    await conn.close()
    signin = await load(
        auth, "/api/users/signin", method="POST", body=credentials, seconds=seconds,
        measure=measured,
    )  # fmt: skip
    signup = await load(
        auth, "/api/users/signup", method="POST", seconds=seconds, expect=201, measure=measured,
        bodies=lambda: {"email": f"{uuid.uuid4().hex}@example.com", "password": "x" * 12},
    )  # fmt: skip
    return [
        rate_figure("POST /api/users/signin, 16 clients", signin, ceiling, ceiling_name),
        cpu_figure("POST /api/users/signin", signin, one_hash, "one hash"),
        rate_figure("POST /api/users/signup, 16 clients", signup, ceiling, ceiling_name),
        cpu_figure("POST /api/users/signup", signup, one_hash, "one hash"),
    ]


async def creation_figures(stack: Stack, floor: RunningService, seconds: float) -> list[Figure]:
    """POST /api/tickets until every ticket's event is published (the relay's work included),
    while orders is stopped (SIGSTOP); then what orders and the database spend catching up:
    the request's cost and its downstream cost, apart."""
    tickets, orders = stack.ports["tickets"], stack.pids["orders"]
    ours_cpu = {"tickets": stack.pids["tickets"], "db": stack.database_pid}
    floor_cpu = {"floor": floor.process.pid, "db": stack.database_pid}
    signed_in = cookie(stack.codec)
    body = {"title": "Bench", "price": 10}
    write_name = "one DB write + one JetStream publish-ack"
    client = AsyncMongoClient[Any](stack.mongo_url)
    outbox = client["tickets"]["outbox"]
    os.kill(orders, signal.SIGSTOP)
    try:
        ours_latency = await latencies(
            tickets, "/api/tickets", method="POST", body=body, headers=signed_in, expect=201,
        )  # fmt: skip
        before = {name: cpu_seconds(pid) for name, pid in ours_cpu.items()}
        ours = await load(
            tickets, "/api/tickets", method="POST", body=body, headers=signed_in,
            seconds=seconds, expect=201,
        )  # fmt: skip
        await wait_until(
            lambda: _none_left(outbox), timeout=60, message="every ticket's event published"
        )
        spent = {name: cpu_seconds(pid) - before[name] for name, pid in ours_cpu.items()}
        ours = Load(ours.requests, ours.seconds, spent)
    finally:
        os.kill(orders, signal.SIGCONT)
    before = {"orders": cpu_seconds(orders), "db": cpu_seconds(stack.database_pid)}
    bus = await EventBus.connect(stack.nats_url, client_name="bench-downstream")
    await wait_until(
        lambda: consumers_idle(bus, "orders-ticket-created"), timeout=120,
        message="orders caught up",
    )  # fmt: skip
    await bus.close()
    downstream = Load(ours.requests, 0, {
        "orders": cpu_seconds(orders) - before["orders"],
        "db": cpu_seconds(stack.database_pid) - before["db"],
    })  # fmt: skip
    await client.close()
    floor_latency = await latencies(floor.port, "/tickets", method="POST", body=body, expect=201)
    raw = await load(
        floor.port, "/tickets", method="POST", body=body, seconds=seconds, expect=201,
        measure=floor_cpu,
    )  # fmt: skip
    return [
        Figure("POST /api/tickets (stored + durably published), p50", p50(ours_latency) * 1000,
               "ms", p50(floor_latency) * 1000, write_name),
        rate_figure("POST /api/tickets, 16 clients", ours, raw.rate, write_name),
        # The outbox relay runs in the tickets process: its publish and delete are included.
        cpu_figure("POST /api/tickets (relay included)", ours, raw, write_name),
        cpu_figure("POST /api/tickets, downstream (orders' replica)", downstream, None, ""),
    ]  # fmt: skip


async def telemetry_figures(plain: Stack, traced: Stack, seconds: float) -> list[Figure]:
    """The same requests on two stacks, tracing off and on (every span kept on disk, as under
    `tix dev`): what tracing costs a request that writes (a transaction, an outbox entry with
    its trace context, the relay's publish) and one that reads (the listing's first page)."""
    off_name = "the same, tracing off"
    figures: list[Figure] = []
    loads: dict[str, dict[str, Load]] = {"write": {}, "read": {}}
    queries: dict[str, float] = {}
    for state, stack in (("off", plain), ("on", traced)):
        measured = {"tickets": stack.pids["tickets"], "db": stack.database_pid}
        port = stack.ports["tickets"]
        loads["write"][state] = await load(
            port, "/api/tickets", method="POST", body={"title": "Traced", "price": 10},
            headers=cookie(stack.codec), seconds=seconds, expect=201, measure=measured,
        )  # fmt: skip
        queries[state] = await queries_per_request(stack, port, "/api/tickets")
        loads["read"][state] = await load(port, "/api/tickets", seconds=seconds, measure=measured)
    for kind, name in (("write", "POST /api/tickets"), ("read", "GET /api/tickets, first page")):
        on, off = loads[kind]["on"], loads[kind]["off"]
        traced_name = f"{name}, tracing on (spans to disk)"
        figures += [
            rate_figure(traced_name, on, off.rate, off_name),
            cpu_figure(traced_name, on, off, off_name),
        ]
    figures.append(
        Figure(
            "GET /api/tickets, first page, tracing on (spans to disk), database queries",
            queries["on"],
            "a request",
            queries["off"],
            off_name,
        )
    )
    return figures


async def _none_left(outbox: AsyncCollection[Any]) -> bool:
    return await outbox.count_documents({}) == 0


async def quiet(stack: Stack) -> None:
    """Until every listener has handled every event so far: latency figures are taken on a
    quiet system, not behind the backlog an earlier run left in the stream."""
    bus = await EventBus.connect(stack.nats_url, client_name="bench-quiet")
    await bus.ensure_stream()  # auth alone publishes nothing: no stream yet
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


async def resting(stack: Stack, floor: RunningService, args: argparse.Namespace) -> list[Figure]:
    bare = resident_mib(floor.process.pid)
    worker = stack.pids["expiration.worker"]
    await asyncio.sleep(2)  # past its start-up: the first reconciliation and heartbeat
    before, started = cpu_seconds(worker), time.monotonic()
    await asyncio.sleep(2 * args.seconds)
    idle = (cpu_seconds(worker) - before) / (time.monotonic() - started)
    return [
        *memory_figures(stack, bare, "at rest"),
        Figure("idle expiration worker, CPU", idle * 100, "% of a core"),
    ]


async def telemetry(stack: Stack, floor: RunningService, args: argparse.Namespace) -> list[Figure]:
    with tempfile.TemporaryDirectory() as scratch:
        spans = {SPANS_DIR_VARIABLE: str(Path(scratch) / "spans"), **READ_EVERY_PAGE}
        with running_services("tickets", log_dir=Path(scratch), env=spans) as traced:
            return await telemetry_figures(stack, traced, args.seconds)


async def sessions(stack: Stack, floor: RunningService, args: argparse.Namespace) -> list[Figure]:
    return await session_figures(stack, floor, args.seconds)


async def passwords(stack: Stack, floor: RunningService, args: argparse.Namespace) -> list[Figure]:
    figures = await password_figures(stack, args.seconds)
    return [*figures, *memory_figures(stack, resident_mib(floor.process.pid), "after sign-ins")]


async def listing(stack: Stack, floor: RunningService, args: argparse.Namespace) -> list[Figure]:
    return await catalogue_figures(stack, floor, args.seconds)


async def serving(stack: Stack, floor: RunningService, args: argparse.Namespace) -> list[Figure]:
    return await served_figures(stack, floor, args.seconds)


async def creating(stack: Stack, floor: RunningService, args: argparse.Namespace) -> list[Figure]:
    return await creation_figures(stack, floor, args.seconds)


async def hops(stack: Stack, floor: RunningService, args: argparse.Namespace) -> list[Figure]:
    jetstream = await jetstream_round_trips(stack.nats_url, args.events)
    listed = await propagation(stack, args.events)
    await quiet(stack)
    paid = await payment_to_complete(stack, args.payments)
    jet50, jet99 = p50(jetstream) * 1000, p99(jetstream) * 1000
    return [
        Figure("ticket listed -> orderable in orders, p50", p50(listed) * 1000, "ms",
               jet50, "JetStream publish -> consume, p50"),
        Figure("ticket listed -> orderable in orders, p99", p99(listed) * 1000, "ms",
               jet99, "JetStream publish -> consume, p99"),
        Figure("payment returned -> order complete, p50", p50(paid) * 1000, "ms",
               jet50, "JetStream publish -> consume, p50"),
        Figure("payment returned -> order complete, p99", p99(paid) * 1000, "ms",
               jet99, "JetStream publish -> consume, p99"),
    ]  # fmt: skip


async def racing(stack: Stack, floor: RunningService, args: argparse.Namespace) -> list[Figure]:
    one_seat = await contention(stack, args.rounds, args.buyers)
    many_seats = await contention(stack, args.rounds, args.seat_buyers, args.seats)
    after = memory_figures(stack, resident_mib(floor.process.pid), "after the races")
    return [*one_seat, *many_seats, *after]


async def expiring(stack: Stack, floor: RunningService, args: argparse.Namespace) -> list[Figure]:
    one_by_one = await expiration_lateness(stack, args.events, spread=args.events * 0.02)
    burst = await expiration_lateness(stack, args.orders, spread=1.0)
    return [
        *lateness_figures(one_by_one, f"{args.events} orders due 20 ms apart"),
        *lateness_figures(burst, f"{args.orders} orders due within 1 s"),
        *memory_figures(stack, resident_mib(floor.process.pid), "after the expiries"),
    ]


async def door(stack: Stack, floor: RunningService, args: argparse.Namespace) -> list[Figure]:
    return await door_figures(stack, floor, args.seconds)


async def onsale(stack: Stack, floor: RunningService, args: argparse.Namespace) -> list[Figure]:
    return await onsale_figures(
        stack, args.onsale_buyers, args.onsale_seats, args.onsale_spread, args.onsale_connections
    )


Part = Callable[[Stack, RunningService, argparse.Namespace], Awaitable[list[Figure]]]

# The listing's read path is measured with no page kept between requests (the same page asked
# again would be answered from memory, and the catalogue is seeded behind the service's back).
READ_EVERY_PAGE = {"LISTING_CACHE_SECONDS": "0"}
PART_ENV: dict[str, dict[str, str]] = {
    "listing": READ_EVERY_PAGE,
    "telemetry": READ_EVERY_PAGE,
    "onsale": ONSALE_ENV,
}

# Each part on servers and services of its own: the database we test on slows down as its
# records of retryable writes pile up (about 9 ms an insert after 11,000 of them, 0.2 ms fresh),
# so a figure measured after another's writes would measure those.
PARTS: list[tuple[tuple[str, ...], Part]] = [
    ((*SERVICES, "expiration", "expiration.worker"), resting),
    (("auth", "orders"), sessions),
    (("auth",), passwords),
    (("tickets",), listing),
    (("tickets",), serving),
    (("tickets", "orders"), creating),
    (("tickets", "orders", "payments"), hops),
    (("tickets", "orders"), racing),
    (("expiration", "expiration.worker"), expiring),
    (("tickets",), telemetry),
    (("tickets", "orders", "waitingroom"), onsale),
    (("tickets", "orders"), door),
]


async def main(args: argparse.Namespace) -> None:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as logs:
        for names, part in PARTS:
            if args.parts and part.__name__ not in args.parts:
                continue
            with (
                running_services(
                    *names, log_dir=Path(logs), env=PART_ENV.get(part.__name__)
                ) as stack,
                running_floor(stack, Path(logs)) as floor,
            ):
                await quiet(stack)
                figures += await part(stack, floor, args)
    print(table(figures))  # noqa: T201


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="per throughput figure")
    parser.add_argument("--events", type=int, default=200, help="propagation samples")
    parser.add_argument("--payments", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--buyers", type=int, default=100)
    parser.add_argument("--seats", type=int, default=100, help="of the listing raced for")
    parser.add_argument("--seat-buyers", type=int, default=1000, help="racing for those seats")
    parser.add_argument("--orders", type=int, default=500, help="orders expiring in 1 s")
    parser.add_argument("--onsale-buyers", type=int, default=20_000)
    parser.add_argument("--onsale-seats", type=int, default=1000, help="of the on-sale's listing")
    parser.add_argument(
        "--onsale-spread",
        type=float,
        default=10.0,
        help="seconds the joins come in, around onSaleAt",
    )
    parser.add_argument(
        "--onsale-connections", type=int, default=200, help="the on-sale's buyers' pool"
    )
    parser.add_argument(
        "--parts", nargs="*", choices=[part.__name__ for _, part in PARTS], help="only these"
    )
    asyncio.run(main(parser.parse_args()))
