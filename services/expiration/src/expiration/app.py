"""The expiration service's HTTP side: it hears new orders and sets their timers; the worker
(`expiration.worker`) fires them. Health: `/readyz` also reports whether the worker is alive."""

from __future__ import annotations

from contextlib import AsyncExitStack

from fastapi import FastAPI

from expiration.listeners import OrderCreatedListener
from expiration.models import Expiry
from expiration.redis import arq_pool, worker_alive
from expiration.service import ExpiryScheduler
from expiration.settings import ExpirationSettings
from tixcommon.app import create_app as create_service_app
from tixcommon.context import ServiceContext


def create_app(settings: ExpirationSettings) -> FastAPI:
    async def setup(app: FastAPI, context: ServiceContext, stack: AsyncExitStack) -> None:
        redis = await arq_pool(settings.redis_url, settings.queue_name)
        stack.push_async_callback(redis.aclose, close_connection_pool=True)
        context.extras["redis"] = redis
        context.extras["scheduler"] = ExpiryScheduler(redis, settings.queue_name)

    async def redis_reachable(context: ServiceContext) -> bool:
        return bool(await context.extras["redis"].ping())

    async def worker_running(context: ServiceContext) -> bool:
        return await worker_alive(context.extras["redis"], settings.queue_name)

    return create_service_app(
        settings,
        title="TixVibe expiration",
        api_prefix="/api/expiration",
        routers=[],
        documents=[Expiry],
        listeners=[OrderCreatedListener],
        setup=setup,
        readiness_checks={"redis": redis_reachable, "worker": worker_running},
    )
