"""The expiration service's collaborators, opened once (by the HTTP app's lifespan, and by the
worker) and handed to its listener and its worker."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from arq.connections import ArqRedis

from expiration.models import EXPIRIES
from expiration.redis import arq_pool, worker_alive
from expiration.repository import ExpiryRepository
from expiration.service import ExpiryScheduler
from expiration.settings import ExpirationSettings
from tixcommon.context import ServiceContext
from tixcommon.health import ReadinessCheck


@dataclass(frozen=True)
class Wiring:
    settings: ExpirationSettings
    redis: ArqRedis
    expiries: ExpiryRepository
    scheduler: ExpiryScheduler

    async def redis_reachable(self) -> bool:
        return bool(await self.redis.ping())

    async def worker_running(self) -> bool:
        return await worker_alive(self.redis, self.settings.queue_name)


async def open_wiring(context: ServiceContext[ExpirationSettings]) -> Wiring:
    settings = context.settings
    redis = await arq_pool(settings.redis_url, settings.queue_name)
    context.exit_stack.push_async_callback(redis.aclose, close_connection_pool=True)
    expiries = ExpiryRepository(context.database[EXPIRIES])
    return Wiring(settings, redis, expiries, ExpiryScheduler(redis, settings.queue_name, expiries))


def readiness_checks(wiring: Wiring) -> Mapping[str, ReadinessCheck]:
    """Besides MongoDB and NATS: Redis answers, and a worker is alive to fire the timers."""
    return {"redis": wiring.redis_reachable, "worker": wiring.worker_running}
