"""The rooms in Redis: every change is one Lua script, so a room is consistent whatever the
replicas of the room do at once, and a restart of the room's process loses nothing.

Per room (ticket T): `T:room` (a hash: the ticket's version, onSaleAt, available, the draw),
`T:early` (who joined before the sale, unordered until the draw), `T:line` (who waits, by
place: 1..n drawn, then 10^9 + arrival), `T:admitted` (every admission's end, until the account
rejoins), `T:leases` and `T:reserve` (unexpired admissions not used yet and the seats each
holds back, summed in the room's `reserved`; `T:ordered`, the orders that used them, so a
redelivered order uses nothing twice), `T:recent` (admissions of the last
minute: the rate), `T:log` (everyone admitted, in order).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from importlib import resources
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tixcommon.errors import ServiceUnavailable
from waitingroom.models import Joined, JoinOutcome, StoredPlace


def _script(redis: Redis, name: str) -> AsyncScript:
    source = resources.files("waitingroom.lua").joinpath(f"{name}.lua").read_text()
    return redis.register_script(source)


T = TypeVar("T")


async def _reply(command: Awaitable[T] | T) -> T:
    """A command's reply (redis-py types each command for both of its clients; the asyncio
    one's are awaitables), Redis away being an outage: 503, and the event retried in place."""
    assert inspect.isawaitable(command)
    try:
        return await command
    except (RedisConnectionError, RedisTimeoutError) as error:
        raise ServiceUnavailable() from error


async def _evaluated(script: AsyncScript, *, keys: list[str], args: list[Any]) -> Any:
    return await _reply(script(keys=keys, args=args))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _split(entry: Any) -> tuple[str, str]:
    account, place = _text(entry).split(" ")
    return account, place


class RoomKeys:
    """One room's keys. (A join's script also touches the address's and the challenge's keys,
    which no room owns: the room runs on one Redis primary, not a Redis Cluster.)"""

    def __init__(self, prefix: str, ticket_id: str) -> None:
        base = f"{prefix}{ticket_id}:"
        self.room = f"{base}room"
        self.early = f"{base}early"
        self.line = f"{base}line"
        self.admitted = f"{base}admitted"
        self.leases = f"{base}leases"
        self.reserve = f"{base}reserve"
        self.ordered = f"{base}ordered"
        self.recent = f"{base}recent"
        self.log = f"{base}log"


class RoomStore:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self._join = _script(redis, "join")
        self._draw = _script(redis, "draw")
        self._admit = _script(redis, "admit")
        self._place = _script(redis, "place")
        self._ticket = _script(redis, "ticket")
        self._use = _script(redis, "use")

    def keys(self, ticket_id: str) -> RoomKeys:
        return RoomKeys(self.prefix, ticket_id)

    @property
    def rooms_key(self) -> str:
        return f"{self.prefix}rooms"

    async def join(
        self,
        ticket_id: str,
        account: str,
        *,
        now: int,
        opens_before: int,
        address: str,
        joins_per_minute: int,
        proof: str,
        proof_ttl: int,
    ) -> Joined:
        room = self.keys(ticket_id)
        window = now // 60_000
        outcome, detail = await _evaluated(
            self._join,
            keys=[
                room.room,
                room.early,
                room.line,
                room.admitted,
                room.leases,
                room.reserve,
                f"{self.prefix}joins:{address}:{window}",
                f"{self.prefix}proof:{proof}",
            ],
            args=[account, now, opens_before, joins_per_minute, 60, proof_ttl],
        )
        return Joined(JoinOutcome(_text(outcome)), int(detail))

    async def place(self, ticket_id: str, account: str, *, now: int) -> StoredPlace | None:
        room = self.keys(ticket_id)
        found = [
            _text(part)
            for part in await _evaluated(
                self._place,
                keys=[room.room, room.early, room.line, room.admitted, room.recent],
                args=[account, now],
            )
        ]
        match found:
            case ["admitted", lease_end, on_sale, available]:
                return StoredPlace(
                    on_sale_at=int(on_sale), available=int(available), lease_end=int(lease_end)
                )
            case ["waiting", ahead, available, rate, on_sale, drawn, reserved]:
                return StoredPlace(
                    on_sale_at=int(on_sale),
                    available=int(available),
                    ahead=int(ahead),
                    admitted_last_minute=int(rate),
                    drawn_at=int(drawn) if drawn else None,
                    reserved=int(reserved),
                )
            case ["early", on_sale, available]:
                return StoredPlace(on_sale_at=int(on_sale), available=int(available))
        return None

    async def early_joiners(self, ticket_id: str) -> list[str]:
        return [
            _text(account)
            for account in await _reply(self.redis.smembers(self.keys(ticket_id).early))
        ]

    async def draw(self, ticket_id: str, order: list[str], *, now: int) -> int:
        """Places 1..n in `order`; n, or 0 (drawn before), -1 (not yet), -2 (read again)."""
        room = self.keys(ticket_id)
        return int(
            await _evaluated(
                self._draw, keys=[room.room, room.early, room.line], args=[now, *order]
            )
        )

    async def admit(
        self, ticket_id: str, *, now: int, per_minute: int, per_round: int, lease: int
    ) -> list[str]:
        room = self.keys(ticket_id)
        admitted = await _evaluated(
            self._admit,
            keys=[
                room.room,
                room.line,
                room.admitted,
                room.leases,
                room.reserve,
                room.recent,
                room.log,
            ],
            args=[now, per_minute, per_round, lease],
        )
        return [_text(account) for account in admitted]

    async def needs_draw(self, ticket_id: str, *, now: int) -> bool:
        on_sale, drawn = await _reply(
            self.redis.hmget(self.keys(ticket_id).room, ["onSaleAt", "drawn"])
        )
        return on_sale is not None and drawn is None and now >= int(_text(on_sale))

    async def rooms(self) -> list[str]:
        return sorted(_text(ticket) for ticket in await _reply(self.redis.smembers(self.rooms_key)))

    async def apply_ticket(
        self,
        ticket_id: str,
        version: int,
        on_sale_at: int | None,
        available: int,
        quantity: int,
        per_buyer_limit: int | None = None,
    ) -> bool:
        room = self.keys(ticket_id)
        on_sale = "" if on_sale_at is None else on_sale_at
        limit = "" if per_buyer_limit is None else per_buyer_limit
        applied = await _evaluated(
            self._ticket,
            keys=[room.room, self.rooms_key],
            args=[ticket_id, version, on_sale, available, quantity, limit],
        )
        return bool(applied)

    async def on_sale_at(self, ticket_id: str) -> int | None:
        on_sale = await _reply(self.redis.hget(self.keys(ticket_id).room, "onSaleAt"))
        return None if on_sale is None else int(_text(on_sale))

    async def version(self, ticket_id: str) -> int | None:
        """The version of the ticket the room last applied."""
        version = await _reply(self.redis.hget(self.keys(ticket_id).room, "version"))
        return None if version is None else int(_text(version))

    async def use_admission(
        self,
        ticket_id: str,
        account: str,
        seats: int,
        order_id: str,
        ticket_version: int | None = None,
    ) -> int:
        """The account ordered `seats` (order `order_id`, placed against the ticket's
        `ticket_version`): its admission, used, holds no seat any more. How many it held (0 for
        a second order, a redelivery, or an account with no admission)."""
        room = self.keys(ticket_id)
        keys = [room.room, room.leases, room.reserve, room.ordered]
        version = "" if ticket_version is None else ticket_version
        args = [account, seats, order_id, version]
        return int(await _evaluated(self._use, keys=keys, args=args))

    async def reserved(self, ticket_id: str) -> int:
        """Seats held for unexpired admissions not used yet (lapsed ones dropped by the last
        round)."""
        reserved = await _reply(self.redis.hget(self.keys(ticket_id).room, "reserved"))
        return 0 if reserved is None else int(_text(reserved))

    async def admission_log(self, ticket_id: str) -> list[tuple[str, float]]:
        """Everyone admitted, in order, with the place each held in line."""
        entries = await _reply(self.redis.lrange(self.keys(ticket_id).log, 0, -1))
        return [(account, float(place)) for account, place in map(_split, entries)]

    async def outstanding(self, ticket_id: str, *, now: int) -> int:
        return int(await _reply(self.redis.zcount(self.keys(ticket_id).leases, f"({now}", "+inf")))
