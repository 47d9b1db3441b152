"""The waiting room's collaborators, opened once by the lifespan: Redis (the rooms), the
admission loop every replica runs, and what the routes and listeners are handed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis

from tixcommon.admission import AdmissionCodec
from tixcommon.context import ServiceContext, opened, wiring_dependency
from tixcommon.health import ReadinessCheck
from tixcommon.periodic import running_every
from waitingroom.proof_of_work import ProofOfWork
from waitingroom.replica import RoomKeeper
from waitingroom.repository import RoomStore
from waitingroom.service import RoomRules, WaitingRoom
from waitingroom.settings import WaitingRoomSettings


@dataclass(frozen=True)
class Wiring:
    settings: WaitingRoomSettings
    redis: Redis
    room: WaitingRoom
    keeper: RoomKeeper

    async def redis_reachable(self) -> bool:
        return bool(await self.redis.ping())


async def open_wiring(context: ServiceContext[WaitingRoomSettings]) -> Wiring:
    settings = context.settings
    redis = Redis.from_url(settings.redis_url)
    context.exit_stack.push_async_callback(redis.aclose)
    await redis.ping()
    store = RoomStore(redis, settings.key_prefix)
    session_key = settings.jwt_key.get_secret_value()
    room = WaitingRoom(
        store,
        ProofOfWork(
            session_key,
            difficulty=settings.waiting_room_difficulty,
            lifetime_seconds=settings.waiting_room_challenge_seconds,
        ),
        AdmissionCodec(session_key),
        RoomRules.of(settings),
    )
    # Every replica admits: each round is one script per room, so replicas never admit the
    # same person twice nor more than the rate between them.
    await context.exit_stack.enter_async_context(
        running_every(settings.waiting_room_tick_seconds, room.advance, name="admitting")
    )
    return Wiring(settings, redis, room, RoomKeeper(store))


def readiness_checks(wiring: Wiring) -> Mapping[str, ReadinessCheck]:
    return {"redis": wiring.redis_reachable}


Wired = Annotated[Wiring, Depends(wiring_dependency(Wiring))]


async def _room(request: Request) -> WaitingRoom:
    # Straight from the request, not through `Wired`: every poll solves this, and FastAPI
    # spends about 10 us of CPU on each dependency it solves (a poll's floor is 0.3 ms).
    return opened(request, Wiring).room


Room = Annotated[WaitingRoom, Depends(_room)]
