"""The room's guarantees under any interleaving of joins (before and after the sale starts),
rounds of admission, orders, lapses and seats coming back, on a real Redis.

A model runs beside the room: the line as the contract orders it (the draw, then arrivals), who
holds an unexpired admission, the seats left. After every step the room must agree with it.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from tixcommon.admission import AdmissionCodec
from tixtest import RedisServer
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
        st.tuples(st.just("order"), st.sampled_from(ACCOUNTS), st.integers(1, 3)),
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
    reserve: dict[str, int] = field(default_factory=dict)  # what each may still buy
    bought: dict[str, int] = field(default_factory=dict)
    admissions_in_minute: list[float] = field(default_factory=list)

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
    limit=st.sampled_from([None, 1, 2, 3]),
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
    version = 0

    async def publish_seats() -> None:
        nonlocal version
        version += 1
        await store.apply_ticket(
            TICKET, version, int(model.on_sale_at * 1000), model.available, SEATS, limit
        )

    await store.apply_ticket(TICKET, 0, int(model.on_sale_at * 1000), SEATS, SEATS, limit)
    # Some join before the sale starts; then the steps run from its start on.
    before = [("join", account) for account in ACCOUNTS[:joins_before]]
    for index, step in enumerate([*before, ("wait", 10), *steps]):
        await _apply(room, store, clock, model, step, drawn_orders, publish_seats)
        await _check(store, clock, model, f"after step {index} {step}")


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
                expected = min(
                    (model.available - sum(model.reserve.values())) // model.each,
                    RULES.admit_per_minute - len(model.admissions_in_minute),
                    RULES.admit_per_round,
                    len(model.line),
                )
                expected = max(expected, 0)
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
                    model.reserve[account] = model.each
                    model.admissions_in_minute.append(now)
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
                held = model.reserve.get(account, 0)
                # A reserve the round has not dropped yet may still be there once lapsed.
                order_id = uuid.uuid4().hex
                taken = await store.use_admission(TICKET, account, seats, order_id)
                # Heard again (a redelivery): nothing more.
                assert await store.use_admission(TICKET, account, seats, order_id) == 0
                assert taken == min(held, seats)
                if held - taken > 0:
                    model.reserve[account] = held - taken
                else:
                    model.reserve.pop(account, None)
                await publish_seats()
        case ("release", seats):
            released = min(seats, model.sold)
            if released:
                model.sold -= released
                model.available += released
                await publish_seats()
        case ("wait", seconds):
            clock.moment += seconds


async def _check(store: RoomStore, clock: Clock, model: Model, when: str) -> None:
    now = int(clock.moment * 1000)
    reserved = await store.reserved(TICKET)
    assert reserved == sum(model.reserve.values()), when
    if model.limit is not None:
        # Whatever was bought, what the admitted may still buy is there to be bought.
        assert reserved <= model.available, when
        assert await store.outstanding(TICKET, now=now) <= model.available, when
    holders = [a for a, end in model.leases.items() if end > clock.moment]
    for account in ACCOUNTS:
        place = await store.place(TICKET, account, now=now)
        if account in holders:
            assert place is not None, when
            assert place.lease_end is not None, when
            assert place.lease_end > now, when
        elif account in model.line:
            assert place is not None, when
            assert place.ahead == model.line.index(account), when
        elif account in model.early:
            assert place is not None, when
            assert place.ahead is None, when
            assert place.lease_end is None, when
