"""The room's guarantees under any interleaving of joins (before and after the sale starts),
rounds of admission, orders, lapses and seats coming back, on a real Redis.

A model runs beside the room: the line as the contract orders it (the draw, then arrivals), who
holds an unexpired admission and how many seats it holds, the seats left. After every step the
room must agree with it. Orders here takes what orders would: any quantity an admitted account
may buy while that many seats are free, within its limit, in as many orders as it likes.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from tixcommon.admission import AdmissionCodec
from tixcommon.auth import UserClaims
from tixtest import RedisServer
from waitingroom.models import PlaceStatus
from waitingroom.proof_of_work import ProofOfWork
from waitingroom.repository import RoomStore
from waitingroom.service import RoomRules, WaitingRoom

ACCOUNTS = [f"{n:024x}" for n in range(1, 9)]
TICKET = "f" * 24
SEATS = 6
LEASE_SECONDS = 100
RULES = RoomRules(
    opens_before=1_800_000,
    admit_per_minute=4,
    admit_per_round=2,
    lease=LEASE_SECONDS * 1000,
    joins_per_address=1000,
    proof_ttl=300,
    refresh_min=2,
    refresh_max=30,
)

steps = st.lists(
    st.one_of(
        st.tuples(st.just("join"), st.sampled_from(ACCOUNTS)),
        st.tuples(st.just("round"), st.just(None)),
        st.tuples(st.just("order"), st.sampled_from(ACCOUNTS), st.integers(1, 4)),
        st.tuples(st.just("release"), st.integers(1, 3)),
        st.tuples(st.just("wait"), st.sampled_from([1, 15, 61, LEASE_SECONDS + 1])),
    ),
    max_size=40,
)


@dataclass
class Model:
    on_sale_at: float
    available: int = SEATS
    sold: int = 0
    early: set[str] = field(default_factory=set)
    line: list[str] = field(default_factory=list)
    drawn: bool = False
    limit: int | None = None
    leases: dict[str, float] = field(default_factory=dict)  # account -> end (s); used or not
    reserve: dict[str, int] = field(default_factory=dict)  # what each admission not used holds
    bought: dict[str, int] = field(default_factory=dict)
    admissions_in_minute: list[float] = field(default_factory=list)
    # Whether an order ever took more seats than its admission held (a second order, or one of
    # the last admissions, holding fewer than the limit): only then may the seats held exceed
    # the seats left, as orders took some of them for someone else.
    overtaken: bool = False
    version: int = 0  # the ticket's, as its events tell the room

    @property
    def each(self) -> int:
        return self.limit or 1

    def drop_lapsed(self, now: float) -> None:
        for account, end in self.leases.items():
            if end <= now:
                self.reserve.pop(account, None)


class Clock:
    def __init__(self, start: float) -> None:
        self.moment = start

    def __call__(self) -> float:
        return self.moment


@pytest.fixture(scope="module")
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    steps=steps,
    seed=st.integers(0, 2**32),
    joins_before=st.integers(0, 8),
    limit=st.sampled_from([None, 1, 2, 3, 4]),
)
async def test_the_room_admits_in_the_drawn_order_and_never_past_the_seats(
    redis_url: str,
    steps: list[tuple[Any, ...]],
    seed: int,
    joins_before: int,
    limit: int | None,
) -> None:
    redis = Redis.from_url(redis_url)
    try:
        await _run(redis, steps, random.Random(seed), joins_before, limit)
    finally:
        await redis.aclose()


async def _run(
    redis: Redis,
    steps: list[tuple[Any, ...]],
    rng: random.Random,
    joins_before: int,
    limit: int | None,
) -> None:
    store = RoomStore(redis, f"test:{uuid.uuid4().hex}:")
    clock = Clock(2_000_000_000.0)
    drawn_orders: list[list[str]] = []

    def shuffle(accounts: list[str]) -> None:
        rng.shuffle(accounts)
        drawn_orders.append(list(accounts))

    key = "k" * 48
    room = WaitingRoom(
        store,
        ProofOfWork(key, difficulty=10, lifetime_seconds=300),
        AdmissionCodec(key),
        RULES,
        clock=clock,
        shuffle=shuffle,
    )
    model = Model(on_sale_at=clock.moment + 10, limit=limit)

    async def publish_seats() -> None:
        model.version += 1
        await store.apply_ticket(
            TICKET, model.version, int(model.on_sale_at * 1000), model.available, SEATS, limit
        )

    await store.apply_ticket(TICKET, 0, int(model.on_sale_at * 1000), SEATS, SEATS, limit)
    # Some join before the sale starts; then the steps run from its start on.
    before = [("join", account) for account in ACCOUNTS[:joins_before]]
    for index, step in enumerate([*before, ("wait", 10), *steps]):
        await _apply(room, store, clock, model, step, drawn_orders, publish_seats)
        await _check(room, clock, model, f"after step {index} {step}")


async def _apply(
    room: WaitingRoom,
    store: RoomStore,
    clock: Clock,
    model: Model,
    step: tuple[Any, ...],
    drawn_orders: list[list[str]],
    publish_seats: Any,
) -> None:
    now = clock.moment
    match step:
        case ("join", account):
            joined = await store.join(
                TICKET,
                account,
                now=room.now(),
                opens_before=RULES.opens_before,
                address="192.0.2.1",
                joins_per_minute=RULES.joins_per_address,
                proof=uuid.uuid4().hex,
                proof_ttl=RULES.proof_ttl,
            )
            lease = model.leases.get(account)
            holding = lease is not None and lease > now
            waiting = account in model.early or account in model.line
            assert joined.outcome.value == ("existing" if holding or waiting else "joined")
            if not holding and not waiting:
                model.leases.pop(account, None)
                model.reserve.pop(account, None)
                (model.early.add if now < model.on_sale_at else model.line.append)(account)
        case ("round", None):
            admitted = await room.advance()
            if not model.drawn and now >= model.on_sale_at:
                drawn = drawn_orders[-1] if model.early else []
                assert sorted(drawn) == sorted(model.early)
                model.line = drawn + model.line
                model.early.clear()
                model.drawn = True
            model.admissions_in_minute = [t for t in model.admissions_in_minute if t > now - 60]
            model.drop_lapsed(now)
            if model.drawn:
                # While any seat is free of every hold: each admission holds the limit, or
                # every free seat when fewer are left.
                free = model.available - sum(model.reserve.values())
                expected = max(0, min(
                    math.ceil(free / model.each),
                    RULES.admit_per_minute - len(model.admissions_in_minute),
                    RULES.admit_per_round,
                    len(model.line),
                ))  # fmt: skip
                # In the line's order: the draw, then arrivals.
                log = await store.admission_log(TICKET)
                assert admitted == expected
                newly, model.line = model.line[:expected], model.line[expected:]
                assert [account for account, _ in log[len(log) - expected :]] == newly
                # Places only grow: everyone drawn before any arrival, arrivals (and rejoins)
                # in order.
                places = [place for _, place in log]
                assert places == sorted(set(places))
                for account in newly:
                    model.leases[account] = now + LEASE_SECONDS
                    model.reserve[account] = min(model.each, free)
                    free -= model.reserve[account]
                    model.admissions_in_minute.append(now)
                if newly:
                    # Admissions hold only seats nobody holds: what orders took aside.
                    assert await store.reserved(TICKET) <= model.available
            else:
                assert admitted == 0
        case ("order", account, seats):
            # Orders takes seats only from an admitted account, only if there are that many,
            # and never past the account's limit.
            lease = model.leases.get(account)
            bought = model.bought.get(account, 0)
            within = model.limit is None or bought + seats <= model.limit
            if lease is not None and lease > now and seats <= model.available and within:
                model.available -= seats
                model.sold += seats
                model.bought[account] = bought + seats
                # The admission is used: what it held and the order did not take is free
                # again. (A hold the round has not dropped yet may still be there once lapsed.)
                held = model.reserve.pop(account, 0)
                model.overtaken = model.overtaken or seats > held
                order_id = uuid.uuid4().hex
                used = await store.use_admission(TICKET, account, seats, order_id, model.version)
                assert used == held
                # Heard again (a redelivery): nothing more.
                assert await store.use_admission(TICKET, account, seats, order_id) == 0
                await publish_seats()
        case ("release", seats):
            released = min(seats, model.sold)
            if released:
                model.sold -= released
                model.available += released
                await publish_seats()
        case ("wait", seconds):
            clock.moment += seconds


async def _check(room: WaitingRoom, clock: Clock, model: Model, when: str) -> None:
    store, now = room.store, int(clock.moment * 1000)
    reserved = await store.reserved(TICKET)
    assert reserved == sum(model.reserve.values()), when
    if not model.overtaken:
        # While orders take no more than admissions hold, what the admitted may buy is there
        # to be bought, and so there are never more unexpired admissions than seats left.
        assert reserved <= model.available, when
        assert await store.outstanding(TICKET, now=now) <= model.available, when
    holders = [a for a, end in model.leases.items() if end > clock.moment]
    free = model.available - reserved
    for account in ACCOUNTS:
        place = await store.place(TICKET, account, now=now)
        if account in holders:
            assert place is not None, when
            assert place.lease_end is not None, when
            assert place.lease_end > now, when
        elif account in model.line:
            assert place is not None, when
            ahead = model.line.index(account)
            assert place.ahead == ahead, when
            # Sold out: no seat free, and no more held of those left than people ahead, who
            # would take them first were they given back.
            shown = await room.place(_claims(account), TICKET)
            sold_out = free <= 0 and ahead >= min(reserved, model.available)
            assert (shown.status is PlaceStatus.SOLD_OUT) == sold_out, when
        elif account in model.early:
            assert place is not None, when
            assert place.ahead is None, when
            assert place.lease_end is None, when


def _claims(account: str) -> UserClaims:
    return UserClaims(id=account, email=f"{account}@example.com", iat=0, exp=2**40)


BUYERS = [f"{n:024x}" for n in range(100, 112)]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    seats=st.integers(1, len(BUYERS)),
    limit=st.sampled_from([None, 1, 2, 3, 4]),
    wants=st.lists(st.integers(1, 4), min_size=len(BUYERS), max_size=len(BUYERS)),
)
async def test_every_last_seat_is_sold_and_those_still_waiting_are_told_sold_out(
    redis_url: str, seats: int, limit: int | None, wants: list[int]
) -> None:
    """Buyers in line, each ordering 1 to 4 seats once admitted (fewer if orders has fewer
    free, or the limit is lower): the room admits until every seat is ordered, whatever the
    seats left and the limit, and then tells everyone still waiting it is sold out."""
    redis = Redis.from_url(redis_url)
    try:
        await _sell_out(redis, seats, limit, dict(zip(BUYERS, wants, strict=True)))
    finally:
        await redis.aclose()


async def _sell_out(redis: Redis, seats: int, limit: int | None, wants: dict[str, int]) -> None:
    store = RoomStore(redis, f"test:{uuid.uuid4().hex}:")
    clock = Clock(2_000_000_000.0)
    key = "k" * 48
    rules = replace(RULES, admit_per_minute=600, admit_per_round=3)
    room = WaitingRoom(
        store,
        ProofOfWork(key, difficulty=10, lifetime_seconds=300),
        AdmissionCodec(key),
        rules,
        clock=clock,
    )
    on_sale = int(clock.moment * 1000) - 1000
    await store.apply_ticket(TICKET, 0, on_sale, seats, seats, limit)
    for account in BUYERS:
        joined = await store.join(
            TICKET,
            account,
            now=room.now(),
            opens_before=rules.opens_before,
            address="192.0.2.1",
            joins_per_minute=rules.joins_per_address,
            proof=uuid.uuid4().hex,
            proof_ttl=rules.proof_ttl,
        )
        assert joined.outcome.value == "joined"
    available, version, done = seats, 0, set[str]()
    # Each round admits at least one buyer while a seat is free; each buyer orders at least one.
    for _ in range(len(BUYERS) + 1):
        await room.advance()
        for account in BUYERS:
            place = await store.place(TICKET, account, now=room.now())
            if account in done or place is None or place.lease_end is None:
                continue
            done.add(account)
            ordered = min(wants[account], limit or wants[account], available)
            if ordered:
                available -= ordered
                await store.use_admission(TICKET, account, ordered, uuid.uuid4().hex, version)
                version += 1
                await store.apply_ticket(TICKET, version, on_sale, available, seats, limit)
        clock.moment += 1
    assert available == 0, f"{available} of {seats} seats never sold"
    for account in set(BUYERS) - done:
        shown = await room.place(_claims(account), TICKET)
        assert shown.status is PlaceStatus.SOLD_OUT, (account, shown)
