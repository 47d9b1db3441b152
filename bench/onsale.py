"""The on-sale (issue 31): 20,000 signed-in buyers join the waiting room within 10 s of
`onSaleAt` for a listing of 1,000 seats with a per-buyer limit of 4; each polls its place at the
`refreshSeconds` it is told and, once admitted, orders 1 to 4 seats with its admission.

The buyers are one schedule run by a pool of keep-alive connections (`Rush`): each buyer's next
request is due at a moment (its join's, then its last answer's `refreshSeconds` later), and a
worker of the pool sends it when it is due and a worker is free. What each figure is, and how a
join's CPU is told from a poll's: docs/benchmarks.md, "The on-sale".
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from bson import ObjectId
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from bench.load import cpu_seconds
from bench.rawhttp import Connection, Reply
from bench.report import Figure, p99
from bench.stack import Stack, resident_mib
from tixcommon.admission import ADMISSION_HEADER
from tixtest import wait_until
from tixtest.altcha import solved
from waitingroom.repository import RoomStore

# The room's settings for the run (the rest are the defaults a deployment runs with).
ONSALE_ENV = {
    # The room checks a solution with two hashes whatever the difficulty; what a browser spends
    # solving is not measured here, and 20,000 solved at the default 50,000 would take minutes.
    "WAITING_ROOM_DIFFICULTY": "10",
    # The challenges are all fetched before the rush: they stay valid through it.
    "WAITING_ROOM_CHALLENGE_SECONDS": "900",
}
# WaitingRoomSettings.key_prefix with no EVENTS_NAMESPACE, as the bench runs the room.
ROOM_PREFIX = "tix:waitingroom:"
LIMIT = 4
TIMEOUT = 10.0  # seconds: a request not answered by then is a timeout (and a failure)
RETRY = 1.0  # seconds before a buyer whose request failed asks again, as its page would
PROBE_INTERVAL = 0.02  # seconds between two GET /api/tickets of the listing's probe
NOT_ENOUGH_SEATS = "Not enough seats available"  # orders' answer: fewer seats free than asked


class Kind(StrEnum):
    CHALLENGE = "challenge"
    JOIN = "join"
    POLL = "poll"
    ORDER = "order"


# An order's 403 is an admission that lapsed on the way (the page then joins again, at the
# back); its 400 Not enough seats, an order for more seats than are left (its buyer then asks
# for fewer, as the page lets them: an admission for the last seats may hold fewer than 4).
EXPECTED = {
    Kind.CHALLENGE: {200}, Kind.JOIN: {200, 201}, Kind.POLL: {200}, Kind.ORDER: {201, 400, 403},
}  # fmt: skip
SALE_SECONDS = 150.0  # from onSaleAt: the run's end if the sale has not ended by then


@dataclass
class Buyer:
    account: str
    headers: dict[str, str]
    solution: str = ""
    joined: bool = False
    admission: str = ""
    seats: int = 0  # what it orders once admitted (fewer if orders has fewer)
    sold_out: bool = False  # what its last answer said
    timer: asyncio.TimerHandle | None = None


@dataclass
class Tally:
    """Every answer, by kind: its latency and status; failures are 5xx and no answer."""

    latencies: defaultdict[Kind, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[tuple[Kind, int]] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)

    def refused(self) -> int:
        return sum(n for (kind, status), n in self.statuses.items()
                   if status < 500 and status not in EXPECTED[kind])  # fmt: skip

    def answered(self, kind: Kind) -> int:
        return sum(n for (of, _), n in self.statuses.items() if of is kind)


async def send(
    tally: Tally, conn: Connection, kind: Kind, method: str, path: str,
    body: object = None, headers: dict[str, str] | None = None,
) -> Reply | None:  # fmt: skip
    """The reply, or None (counted as a failure) for a 5xx, a timeout or a dropped connection."""
    started = time.perf_counter()
    try:
        reply = await asyncio.wait_for(conn.request(method, path, body, headers), TIMEOUT)
    except TimeoutError:
        tally.failures[f"{kind} timeout"] += 1
    except (ConnectionError, asyncio.IncompleteReadError) as error:
        tally.failures[f"{kind} {type(error).__name__}"] += 1
    else:
        tally.latencies[kind].append(time.perf_counter() - started)
        tally.statuses[(kind, reply.status)] += 1
        if reply.status < 500:
            return reply
        tally.failures[f"{kind} {reply.status}"] += 1
        return None
    await conn.close()  # mid-request: its next reply would be this one's
    return None


def signed_in(stack: Stack, index: int) -> Buyer:
    account = uuid.uuid4().hex[:24]
    session = stack.codec.issue(account, f"{account}@bench.test")
    # An address of its own: the room's router-appended X-Forwarded-For (one trusted hop).
    address = f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}"
    return Buyer(account, {"Cookie": f"session={session}", "X-Forwarded-For": address})


async def solve_challenges(stack: Stack, buyers: list[Buyer], tally: Tally) -> Figure:
    """Each buyer's challenge fetched and solved, before the rush: what the room spent on
    handing them out (no Redis: a challenge is signed, not stored)."""
    port, remaining = stack.ports["waitingroom"], iter(buyers)

    async def fetcher() -> None:
        conn = Connection("127.0.0.1", port)
        for buyer in remaining:  # shared: each buyer's challenge is fetched once
            path = "/api/waitingroom/challenge"
            reply = await send(tally, conn, Kind.CHALLENGE, "GET", path, headers=buyer.headers)
            assert reply is not None
            assert reply.status == 200, reply.body[:200]
            buyer.solution = solved(reply.json())  # type: ignore[arg-type]
        await conn.close()

    before = cpu_seconds(stack.pids["waitingroom"])
    await asyncio.gather(*(fetcher() for _ in range(16)))
    spent = cpu_seconds(stack.pids["waitingroom"]) - before
    return Figure("on-sale: GET /api/waitingroom/challenge, CPU per request (room)",
                  spent * 1000 / len(buyers), "ms")  # fmt: skip


async def list_sale(stack: Stack, seats: int, lead: float) -> tuple[str, float]:
    """A listing of `seats` with the limit, on sale `lead` seconds from now, once the room and
    orders both know it: its id and its onSaleAt (Unix seconds)."""
    on_sale = round(time.time() + lead)
    seller = signed_in(stack, 0).headers
    body = {
        "title": "The on-sale", "price": 50, "quantity": seats, "perBuyerLimit": LIMIT,
        "onSaleAt": datetime.fromtimestamp(on_sale, UTC).isoformat().replace("+00:00", "Z"),
    }  # fmt: skip
    conn = Connection("127.0.0.1", stack.ports["tickets"])
    reply = await conn.request("POST", "/api/tickets", body, seller)
    await conn.close()
    assert reply.status == 201, reply.body
    ticket_id = str(reply.json()["id"])  # type: ignore[index]
    redis, mongo = Redis.from_url(stack.redis_url), AsyncMongoClient[Any](stack.mongo_url)
    room = RoomStore(redis, ROOM_PREFIX)

    async def known() -> bool:
        replica = await mongo["orders"]["tickets"].find_one({"_id": ObjectId(ticket_id)})
        return replica is not None and await room.on_sale_at(ticket_id) is not None

    await wait_until(known, timeout=30, message="the room and orders know the sale")
    await redis.aclose()
    await mongo.close()
    return ticket_id, float(on_sale)


async def listing_latencies(port: int, stop: asyncio.Event) -> list[float]:
    """GET /api/tickets every PROBE_INTERVAL on one connection until `stop`: a shopper
    browsing the shop, which the room must shield from the rush."""
    conn, samples = Connection("127.0.0.1", port), []
    while not stop.is_set():
        started = time.perf_counter()
        reply = await conn.request("GET", "/api/tickets")
        samples.append(time.perf_counter() - started)
        assert reply.status == 200, reply.body[:200]
        await asyncio.sleep(max(0.0, started + PROBE_INTERVAL - time.perf_counter()))
    await conn.close()
    return samples


class Rush:
    """The buyers' requests, each sent when it is due by a free worker of the pool (a worker
    holds one keep-alive connection to the room and one to orders)."""

    def __init__(self, stack: Stack, ticket_id: str, buyers: list[Buyer], tally: Tally) -> None:
        self.stack, self.ticket_id, self.buyers, self.tally = stack, ticket_id, buyers, tally
        self.queue: asyncio.Queue[tuple[Kind, Buyer] | None] = asyncio.Queue()
        self.random = random.Random(31)  # noqa: S311 - seats wanted, not a secret
        self.measured = {"room": stack.pids["waitingroom"], "redis": stack.redis_pid}
        self.joins_left = len(buyers)
        # Still in the sale: not yet done ordering, and not told sold-out by its last answer
        # (a buyer told so keeps polling, as its page does: held seats may come back).
        self.open = len(buyers)
        self.settled = asyncio.Event()  # nobody open
        # Polls answered while joins were still being answered, and after.
        self.polls = {"joins": 0, "after": 0}
        self.cpu: list[dict[str, float]] = []  # at the first join, the last join's answer, the end
        self.joins_done = asyncio.Event()
        self.expired = self.rejoins = self.fewer = 0
        self.last_order = 0.0  # Unix seconds
        self.stopped = False
        self.workers: list[asyncio.Task[None]] = []

    def cpu_now(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) for name, pid in self.measured.items()}

    def due(self, delay: float, kind: Kind, buyer: Buyer) -> None:
        if not self.stopped:
            loop = asyncio.get_running_loop()
            buyer.timer = loop.call_later(max(0.0, delay), self.queue.put_nowait, (kind, buyer))

    def start(self, join_at: list[float], connections: int) -> None:
        now = time.time()
        for buyer, moment in zip(self.buyers, join_at, strict=True):
            self.due(moment - now, Kind.JOIN, buyer)
        self.workers = [asyncio.create_task(self.worker()) for _ in range(connections)]

    @property
    def sold_out(self) -> int:
        return sum(1 for buyer in self.buyers if buyer.sold_out)

    def count_open(self, change: int) -> None:
        self.open += change
        if self.open:
            self.settled.clear()
        else:
            self.settled.set()

    async def finish(self, deadline: float) -> None:
        """Until every buyer has ordered or been told sold-out by its last answer, or
        `deadline` (monotonic)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.settled.wait(), deadline - time.monotonic())
        self.cpu.append(self.cpu_now())
        self.stopped = True
        for buyer in self.buyers:
            if buyer.timer is not None:
                buyer.timer.cancel()
        for _ in self.workers:
            self.queue.put_nowait(None)
        await asyncio.gather(*self.workers)

    async def worker(self) -> None:
        room = Connection("127.0.0.1", self.stack.ports["waitingroom"])
        orders = Connection("127.0.0.1", self.stack.ports["orders"])
        while (task := await self.queue.get()) is not None:
            kind, buyer = task
            if kind is Kind.JOIN:
                await self.join(room, buyer)
            elif kind is Kind.CHALLENGE:
                await self.challenge(room, buyer)
            elif kind is Kind.POLL:
                reply = await send(self.tally, room, kind, "GET", self.path, None, buyer.headers)
                self.polls["after" if self.joins_done.is_set() else "joins"] += 1
                self.placed(buyer, reply, kind)
            else:
                await self.order(orders, buyer)
        await room.close()
        await orders.close()

    @property
    def path(self) -> str:
        return f"/api/waitingroom/{self.ticket_id}"

    async def join(self, room: Connection, buyer: Buyer) -> None:
        if not self.cpu:
            self.cpu.append(self.cpu_now())
        body = {"altcha": buyer.solution}
        reply = await send(self.tally, room, Kind.JOIN, "POST", self.path, body, buyer.headers)
        if reply is None:
            self.due(RETRY, Kind.JOIN, buyer)
            return
        if not buyer.joined:  # not a rejoin
            buyer.joined = True
            self.joins_left -= 1
            if not self.joins_left:
                self.cpu.append(self.cpu_now())
                self.joins_done.set()
        self.placed(buyer, reply, Kind.JOIN)

    async def challenge(self, room: Connection, buyer: Buyer) -> None:
        """A new challenge solved, to join again."""
        path = "/api/waitingroom/challenge"
        reply = await send(self.tally, room, Kind.CHALLENGE, "GET", path, None, buyer.headers)
        if reply is None or reply.status != 200:
            self.due(RETRY, Kind.CHALLENGE, buyer)
            return
        buyer.solution = solved(reply.json())  # type: ignore[arg-type]
        self.rejoins += 1
        self.due(0, Kind.JOIN, buyer)

    def placed(self, buyer: Buyer, reply: Reply | None, kind: Kind) -> None:
        """What the buyer's page does with its place."""
        if reply is None:
            self.due(RETRY, Kind.POLL, buyer)
            return
        if reply.status not in EXPECTED[kind]:
            self.count_open(-1)  # refused: counted, and the buyer gives up
            return
        place: dict[str, Any] = reply.json()  # type: ignore[assignment]
        sold_out = place["status"] == "sold-out"
        if sold_out != buyer.sold_out:
            buyer.sold_out = sold_out
            self.count_open(-1 if sold_out else 1)
        match place["status"]:
            case "admitted":
                buyer.admission = place["admission"]
                buyer.seats = buyer.seats or self.random.randint(1, LIMIT)
                self.due(0, Kind.ORDER, buyer)
            case "waiting" | "sold-out":
                self.due(place["refreshSeconds"], Kind.POLL, buyer)
            case _:  # expired: admitted, but its page asked only after the admission lapsed
                self.expired += 1
                buyer.admission = ""
                self.due(0, Kind.CHALLENGE, buyer)  # joins again, at the back

    async def order(self, orders: Connection, buyer: Buyer) -> None:
        body = {"ticketId": self.ticket_id, "quantity": buyer.seats}
        headers = {**buyer.headers, ADMISSION_HEADER: buyer.admission}
        reply = await send(self.tally, orders, Kind.ORDER, "POST", "/api/orders", body, headers)
        if reply is None:
            self.due(RETRY, Kind.POLL, buyer)  # its page asks again: still admitted
            return
        if reply.status == 403:
            self.expired += 1
            buyer.admission = ""
            self.due(0, Kind.CHALLENGE, buyer)
            return
        if reply.status == 400 and _message(reply) == NOT_ENOUGH_SEATS and buyer.seats > 1:
            self.fewer += 1
            buyer.seats -= 1
            self.due(0, Kind.ORDER, buyer)
            return
        self.count_open(-1)  # done: it bought, or no seat was left for it
        if reply.status == 201:
            self.last_order = time.time()


def _message(reply: Reply) -> str:
    errors = reply.json()["errors"]  # type: ignore[index]
    return str(errors[0]["message"])


@dataclass(frozen=True)
class Sold:
    seats: int
    over_limit: int  # buyers holding more than the limit
    out_of_order: int  # admissions not in the line's order
    admitted: int
    drawn: int


async def sold(stack: Stack, ticket_id: str) -> Sold:
    """The sale as orders stored it (live orders hold their seats: payments is not in this
    stack, so no order is paid, and none expires) and as the room logged its admissions."""
    mongo = AsyncMongoClient[Any](stack.mongo_url)
    held: Counter[str] = Counter()
    holding = {"ticket.id": ticket_id, "holds_ticket": True}
    async for order in mongo["orders"]["orders"].find(holding, {"user_id": 1, "quantity": 1}):
        held[order["user_id"]] += order["quantity"]
    await mongo.close()
    redis = Redis.from_url(stack.redis_url)
    room = RoomStore(redis, ROOM_PREFIX)
    log = await room.admission_log(ticket_id)
    drawn = int(await redis.hget(room.keys(ticket_id).room, "drawnCount") or 0)
    await redis.aclose()
    # The drawn hold places 1..n, so the k-th admitted of them holds place k; arrivals after
    # the draw hold 10^9 + their arrival, and are admitted by it: places only ever grow.
    out_of_order, last = 0, 0.0
    for index, (_, place) in enumerate(log):
        if place <= last or (index < drawn and place != index + 1):
            out_of_order += 1
        last = max(last, place)
    over = sum(1 for seats in held.values() if seats > LIMIT)
    return Sold(sum(held.values()), over, out_of_order, len(log), drawn)


def cpu_split(spent: dict[str, float], count: int) -> tuple[float, str]:
    split = " + ".join(f"{name} {seconds * 1000 / count:.3f}" for name, seconds in spent.items())
    return sum(spent.values()) * 1000 / count, split


def request_figures(rush: Rush) -> list[Figure]:
    """Failures, CPU per join and per poll. The CPU of the room and Redis is read at the first
    join, at the last join's answer and at the end. Polls go on while buyers join (the early
    joiners' first polls come from onSaleAt on), so the cost of a poll is measured after the
    joins (every poll, admission round and order event there, over the polls) and the polls of
    the join window are taken off at that cost: what is left is the joins' (the draw included)."""
    tally = rush.tally
    joins, polls, orders = (tally.answered(kind) for kind in (Kind.JOIN, Kind.POLL, Kind.ORDER))
    start, joined, end = rush.cpu
    after = {name: end[name] - joined[name] for name in end}
    per_poll = {name: seconds / max(rush.polls["after"], 1) for name, seconds in after.items()}
    during = {
        name: joined[name] - start[name] - rush.polls["joins"] * per_poll[name] for name in end
    }
    join_ms, join_split = cpu_split(during, joins)
    poll_ms, poll_split = cpu_split(after, max(rush.polls["after"], 1))
    failures = sum(tally.failures.values())
    detail = "".join(f"; {what} {n}" for what, n in sorted(tally.failures.items()))
    refused = "".join(
        f"; {kind} {status} {n}"
        for (kind, status), n in sorted(tally.statuses.items())
        if status < 500 and status not in EXPECTED[kind]
    )
    bound = "issue 31's bound"
    return [
        Figure(f"on-sale: requests answered 5xx or not in {TIMEOUT:.0f} s ({joins:,} joins, "
               f"{polls:,} polls, {orders:,} orders{detail})", failures, "", 0, "none"),
        Figure(f"on-sale: requests refused (4xx){refused}", tally.refused(), "", 0, "none"),
        Figure(f"on-sale: join, CPU per request ({join_split})", join_ms, "ms", 1.0, bound),
        Figure(f"on-sale: poll, CPU per request ({poll_split})", poll_ms, "ms", 0.3, bound),
        *(
            Figure(f"on-sale: {kind}, p99", p99(tally.latencies[kind]) * 1000, "ms")
            for kind in (Kind.JOIN, Kind.POLL, Kind.ORDER)
            if tally.latencies[kind]
        ),
    ]  # fmt: skip


async def onsale_figures(
    stack: Stack, buyers: int, seats: int, spread: float, connections: int
) -> list[Figure]:
    tally = Tally()
    crowd = [signed_in(stack, index + 1) for index in range(buyers)]
    challenge = await solve_challenges(stack, crowd, tally)
    rest = 5.0  # seconds of the listing's probe at rest, before the first join
    ticket_id, on_sale = await list_sale(stack, seats, lead=rest + spread / 2 + 3)
    tickets = stack.ports["tickets"]
    stop = asyncio.Event()
    probe = asyncio.create_task(listing_latencies(tickets, stop))
    await asyncio.sleep(rest)  # the probe's length, not a wait for anything
    stop.set()
    at_rest = await probe
    first = on_sale - spread / 2
    draw = random.Random(31)  # noqa: S311 - join times, not a secret
    rush = Rush(stack, ticket_id, crowd, tally)
    rush.start(sorted(draw.uniform(first, first + spread) for _ in crowd), connections)
    await asyncio.sleep(max(0.0, first - time.time()))
    stop = asyncio.Event()
    probe = asyncio.create_task(listing_latencies(tickets, stop))
    await rush.joins_done.wait()
    joined = time.time()
    stop.set()
    during = await probe
    await rush.finish(deadline=time.monotonic() + on_sale + SALE_SECONDS - time.time())
    outcome = await sold(stack, ticket_id)
    room_rss, redis_rss = resident_mib(stack.pids["waitingroom"]), resident_mib(stack.redis_pid)
    return [
        challenge,
        *request_figures(rush),
        Figure(f"on-sale: seats sold of {seats:,} within {SALE_SECONDS:.0f} s of onSaleAt "
               "(orders holding seats)", outcome.seats, "",
               seats, "every seat", higher_is_better=True),
        Figure(f"on-sale: buyers left waiting, never told sold-out ({rush.sold_out:,} told)",
               rush.open, "", 0, "none"),
        Figure("on-sale: admissions lapsed before their buyer's order (who joined again)",
               rush.expired, ""),
        Figure("on-sale: orders asked again for fewer seats (orders had fewer left)",
               rush.fewer, ""),
        Figure(f"on-sale: buyers holding more than {LIMIT} seats", outcome.over_limit, "", 0,
               "none"),
        Figure(f"on-sale: admissions out of the line's order ({outcome.admitted:,} admitted, "
               f"{outcome.drawn:,} drawn)", outcome.out_of_order, "", 0, "none"),
        Figure(f"on-sale: {buyers:,} joins, first due -> last answered", joined - first, "s",
               spread, "the joins' spread"),
        Figure("on-sale: onSaleAt -> last order placed", rush.last_order - on_sale, "s"),
        Figure("on-sale: GET /api/tickets during the joins, p99", p99(during) * 1000, "ms",
               p99(at_rest) * 1000 * 1.2, "at rest x 1.2"),
        Figure("resident memory of waitingroom, after the on-sale", room_rss, "MiB", 150,
               "issue 31's bound"),
        Figure("resident memory of the room's Redis, after the on-sale", redis_rss, "MiB"),
    ]  # fmt: skip
