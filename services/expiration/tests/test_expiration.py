"""Reservation timers: on time, once, and surviving worker and Redis restarts."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
import orjson
import pytest
from arq.connections import ArqRedis
from bson import ObjectId
from pymongo import AsyncMongoClient

from expiration.models import EXPIRIES, Expiry, ExpiryStatus
from expiration.redis import arq_pool, worker_alive
from expiration.repository import ExpiryRepository
from expiration.service import ExpiryScheduler, job_id
from expiration.settings import ExpirationSettings
from tixcommon.bus import EventBus, Publisher
from tixcommon.errors import ServiceUnavailable
from tixcommon.events import OrderCreated, OrderStatus, TicketPrice
from tixcommon.outages import is_outage
from tixtest import (
    RedisServer,
    consumers_idle,
    stream_messages,
    wait_for_event,
    wait_until,
)

StartWorker = Callable[..., Awaitable[Any]]


def order_created(expires_in: float) -> OrderCreated:
    return OrderCreated(
        id=str(ObjectId()),
        version=0,
        status=OrderStatus.CREATED,
        user_id="a" * 24,
        expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
        ticket=TicketPrice(id=str(ObjectId()), price=10),
    )


async def test_order_expires_when_its_time_comes_not_before(
    client: httpx.AsyncClient, start_worker: StartWorker, publish: Publisher, bus: EventBus
) -> None:
    await start_worker()
    order = order_created(expires_in=0.6)

    await publish.publish(order)

    await wait_for_event(bus, "expiration.complete", lambda e: e == {"orderId": order.id})
    [message] = await stream_messages(bus, "expiration.complete")
    assert message.metadata.timestamp >= order.expires_at
    expiry = await Expiry.get(order.id)
    assert expiry is not None
    assert expiry.status is ExpiryStatus.EXPIRED


async def test_a_sleeping_worker_wakes_for_a_new_timer_sooner_than_its_next(
    client: httpx.AsyncClient,
    start_worker: StartWorker,
    publish: Publisher,
    bus: EventBus,
    settings: ExpirationSettings,
) -> None:
    # Idle sleeps and reconciliation of a minute: only the announcement of the new timer can
    # wake it in time.
    await start_worker(WORKER_IDLE_SECONDS="60", WORKER_HEALTH_SECONDS="60", RECONCILE_SECONDS="60")
    await wait_until(worker_running(settings), message="worker started")
    later = order_created(expires_in=120)
    await publish.publish(later)
    await wait_until(lambda: _scheduled(later.id), message="the later timer set")
    sooner = order_created(expires_in=0.5)

    await publish.publish(sooner)

    await wait_for_event(
        bus, "expiration.complete", lambda e: e == {"orderId": sooner.id}, timeout=5
    )
    [message] = await stream_messages(bus, "expiration.complete")
    assert message.metadata.timestamp >= sooner.expires_at


async def test_an_idle_worker_sleeps_instead_of_polling_redis(
    client: httpx.AsyncClient,
    start_worker: StartWorker,
    publish: Publisher,
    redis_server: RedisServer,
    settings: ExpirationSettings,
) -> None:
    await start_worker()
    await wait_until(worker_running(settings), message="worker started")
    order = order_created(expires_in=60)
    await publish.publish(order)
    await wait_until(lambda: _scheduled(order.id), message="timer set")
    redis = await arq_pool(redis_server.url, "stats")
    await redis.config_resetstat()

    # A window, not a synchronisation: how many looks the worker takes in it is the figure.
    await asyncio.sleep(2)

    looks = (await redis.info("commandstats")).get("cmdstat_zrangebyscore", {}).get("calls", 0)
    await redis.aclose()
    # Polling every 5 ms would be about 400; sleeping until the next heartbeat (0.5 s here), 4.
    assert looks <= 10


async def test_a_sub_millisecond_deadline_is_kept_rounded_up_never_down(
    client: httpx.AsyncClient, publish: Publisher
) -> None:
    # MongoDB keeps whole milliseconds: 999 µs past one must not become that millisecond.
    order = order_created(expires_in=60)
    order = order.model_copy(update={"expires_at": order.expires_at.replace(microsecond=123_999)})
    await publish.publish(order)

    async def recorded() -> Expiry | None:
        return await Expiry.get(order.id)

    expiry = await wait_until(recorded, message="expiry recorded")
    assert expiry is not None
    assert expiry.expires_at.replace(tzinfo=UTC) == order.expires_at.replace(microsecond=124_000)


async def test_redelivered_order_created_expires_once(
    client: httpx.AsyncClient, start_worker: StartWorker, publish: Publisher, bus: EventBus
) -> None:
    await start_worker()
    order = order_created(expires_in=0.3)

    await publish.publish(order)
    await publish.publish(order)
    await wait_for_event(bus, "expiration.complete", lambda e: e["orderId"] == order.id)
    await publish.publish(order)  # even after it expired
    await wait_until(lambda: consumers_idle(bus, "expiration-order-created"), message="handled")

    assert len(await stream_messages(bus, "expiration.complete")) == 1


async def test_order_already_due_expires_at_once(
    client: httpx.AsyncClient, start_worker: StartWorker, publish: Publisher, bus: EventBus
) -> None:
    await start_worker()
    order = order_created(expires_in=-5)

    await publish.publish(order)

    # The deadline includes the worker process starting (imports, connections).
    await wait_for_event(bus, "expiration.complete", lambda e: e["orderId"] == order.id, timeout=20)


async def test_timers_survive_a_worker_restart(
    client: httpx.AsyncClient, start_worker: StartWorker, publish: Publisher, bus: EventBus
) -> None:
    first = await start_worker()
    order = order_created(expires_in=1.5)
    await publish.publish(order)
    await wait_until(lambda: _scheduled(order.id), message="recorded")
    await first.stop()

    await start_worker()

    await wait_for_event(bus, "expiration.complete", lambda e: e["orderId"] == order.id)


async def test_timers_lost_by_redis_are_rebuilt_by_the_worker(
    client: httpx.AsyncClient,
    start_worker: StartWorker,
    publish: Publisher,
    bus: EventBus,
    settings: ExpirationSettings,
) -> None:
    soon, later = order_created(expires_in=-1), order_created(expires_in=1)
    for order in (soon, later):
        await publish.publish(order)
        await wait_until(partial(_scheduled, order.id), message="recorded")
    redis = await arq_pool(settings.redis_url, settings.queue_name)
    try:
        # Redis restarted without its data: every timer is gone.
        await _forget_jobs(redis, settings.queue_name, [soon.id, later.id])

        await start_worker()

        for order in (soon, later):
            await wait_for_event(bus, "expiration.complete", partial(_about, order.id))
    finally:
        await redis.aclose(close_connection_pool=True)
    expired = [
        orjson.loads(m.data)["orderId"] for m in await stream_messages(bus, "expiration.complete")
    ]
    assert set(expired) == {soon.id, later.id}


async def test_readiness_reports_a_killed_worker_within_seconds(
    client: httpx.AsyncClient, start_worker: StartWorker, expiration_env: dict[str, str]
) -> None:
    worker = await start_worker()

    async def ready() -> bool:
        return (await client.get("/readyz")).status_code == 200

    await wait_until(ready, timeout=30, message="ready with a live worker")
    assert (await client.get("/readyz")).json()["checks"]["worker"] == "ok"
    assert await _liveness_probe(expiration_env) == 0

    await worker.kill()  # as a crash or the OOM killer does it: no goodbye

    async def not_ready() -> bool:
        response = await client.get("/readyz")
        return response.status_code == 503 and "worker unavailable" in response.text

    await wait_until(not_ready, timeout=5, message="dead worker noticed")
    assert await _liveness_probe(expiration_env) == 1


async def _liveness_probe(env: dict[str, str]) -> int:
    """`python -m expiration.worker --check`, as a Kubernetes exec probe runs it."""
    probe = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "expiration.worker", "--check", env={**os.environ, **env}
    )
    return await probe.wait()


def _about(order_id: str, event: dict[str, str]) -> bool:
    return event["orderId"] == order_id


def worker_running(settings: ExpirationSettings) -> Callable[[], Awaitable[bool]]:
    async def alive() -> bool:
        redis = await arq_pool(settings.redis_url, settings.queue_name)
        try:
            return await worker_alive(redis, settings.queue_name)
        finally:
            await redis.aclose()

    return alive


async def _scheduled(order_id: str) -> bool:
    expiry = await Expiry.get(order_id)
    return expiry is not None and expiry.status is ExpiryStatus.SCHEDULED


async def _forget_jobs(redis: ArqRedis, queue_name: str, order_ids: list[str]) -> None:
    for order_id in order_ids:
        await redis.delete(f"arq:job:{job_id(order_id)}")
        await redis.zrem(queue_name, job_id(order_id))


async def test_a_redis_outage_is_an_outage_not_a_bad_event(
    settings: ExpirationSettings, mongo: AsyncMongoClient[Any], database_name: str
) -> None:
    # Said so, the listener keeps the order.created in hand until Redis is back instead of
    # spending its deliveries and setting it aside.
    with RedisServer(append_only=False) as server:
        redis = await arq_pool(server.url, settings.queue_name)
        expiries = ExpiryRepository(mongo[database_name][EXPIRIES])
        scheduler = ExpiryScheduler(redis, settings.queue_name, expiries)
        order_id, due = str(ObjectId()), datetime.now(UTC) + timedelta(minutes=1)
        try:
            server.stop()
            with pytest.raises(ServiceUnavailable) as raised:
                await scheduler.schedule(order_id, due)
            assert is_outage(raised.value)

            server.start()
            await scheduler.schedule(order_id, due)
            assert await redis.exists(f"arq:job:{job_id(order_id)}")
        finally:
            await redis.aclose(close_connection_pool=True)
