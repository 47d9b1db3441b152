"""The expiration worker: an arq worker that fires reservation timers on time.

    python -m expiration.worker           run the worker
    python -m expiration.worker --check   exit 0 if a worker is alive (a liveness probe)

A worker started before Redis, MongoDB or NATS waits for them. Nothing is lost if the worker or
Redis restarts: deferred jobs live in Redis (append-only in every deployment), and on start,
then every RECONCILE_SECONDS, the worker rebuilds the timers of every order it has heard of and
not yet expired, expiring at once those already due.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from contextlib import AsyncExitStack
from functools import partial
from typing import Any

from arq import Retry, Worker, func
from arq.utils import timestamp_ms
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from expiration.metrics import EXPIRY_LATENESS
from expiration.redis import arq_pool, health_key, scheduled_channel, worker_alive
from expiration.service import EXPIRE_JOB, Expirer, ExpiryScheduler
from expiration.settings import ExpirationSettings
from expiration.wiring import Wiring, open_wiring
from tixcommon.bus import EventBus, Publisher
from tixcommon.errors import ServiceUnavailable
from tixcommon.logging import configure_logging, log_context
from tixcommon.metrics import serving_metrics
from tixcommon.opening import open_with_retry, service_context
from tixcommon.periodic import running_every
from tixcommon.settings import ConfigurationError, load_settings
from tixcommon.tracing import configure_tracing, continuing

logger = logging.getLogger(__name__)


async def expire_order(
    ctx: dict[str, Any], order_id: str, trace: dict[str, str] | None = None
) -> bool:
    """`trace`: the context of the order that set the timer (none for timers set before it was
    kept, or rebuilt by the reconciliation)."""
    expirer: Expirer = ctx["expirer"]
    with (
        continuing(trace or {}, "expiration fire", **{"tix.order_id": order_id}),
        log_context(order_id=order_id, job_try=ctx.get("job_try")),
    ):
        try:
            announced = await expirer.expire(order_id)
        except Exception as error:
            # Database or broker unavailable: try again shortly rather than drop the timer.
            logger.warning("expiry failed, retrying", extra={"error": repr(error)})
            raise Retry(defer=min(0.5 * 2 ** ctx.get("job_try", 1), 30)) from error
        if announced and "score" in ctx:
            # arq's score is the time the job was due, in milliseconds.
            EXPIRY_LATENESS.observe(max(timestamp_ms() - ctx["score"], 0) / 1000)
        return announced


async def _reconcile(expirer: Expirer, scheduler: ExpiryScheduler) -> None:
    restored = await expirer.reconcile(scheduler)
    if restored:
        logger.warning("expired orders whose timers were lost", extra={"count": restored})


class ExpiryWorker(Worker):
    """arq's worker, sleeping until its next timer is due or a new one is set, rather than
    asking Redis every few milliseconds whether anything is due.

    A new timer is announced on `scheduled_channel`; a missed announcement (a dropped
    connection) costs at most `idle_seconds` of lateness, which is also how often an idle worker
    refreshes its heartbeat."""

    def __init__(self, *args: Any, busy_seconds: float, idle_seconds: float, **kwargs: Any):
        super().__init__(*args, poll_delay=0, **kwargs)
        self.busy_seconds = busy_seconds
        self.idle_seconds = min(idle_seconds, self.health_check_interval)
        self._scheduled = asyncio.Event()

    async def main(self) -> None:
        # Subscribed before the first look, so no timer set after it goes unannounced.
        pubsub = self.pool.pubsub()
        await pubsub.subscribe(scheduled_channel(self.queue_name))
        listening = asyncio.create_task(self._listen(pubsub), name="timer announcements")
        try:
            await super().main()
        finally:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening

    async def _poll_iteration(self) -> None:
        await super()._poll_iteration()
        # Cleared before the look ahead: an announcement made after it wakes the wait below.
        self._scheduled.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._scheduled.wait(), await self._until_next_due())

    async def _until_next_due(self) -> float:
        first = await self.pool.zrange(self.queue_name, 0, 0, withscores=True)
        if not first:
            return self.idle_seconds
        due_in = (float(first[0][1]) - timestamp_ms()) / 1000
        if due_in <= 0:
            # Due and not yet taken (every job slot busy, or it is running): look again soon.
            return self.busy_seconds
        # A millisecond past the deadline, so the look finds it due.
        return min(due_in + 0.001, self.idle_seconds)

    async def _listen(self, pubsub: PubSub) -> None:
        while True:
            try:
                async with pubsub:
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            self._scheduled.set()
            except (RedisError, OSError) as error:
                logger.warning("timer announcements lost", extra={"error": repr(error)})
                await asyncio.sleep(self.idle_seconds)
                pubsub = self.pool.pubsub()
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.subscribe(scheduled_channel(self.queue_name))


def build_worker(wiring: Wiring, bus: EventBus, *, handle_signals: bool = True) -> Worker:
    """An arq worker on the service's open wiring and event bus (see `run`)."""
    settings = wiring.settings
    expirer = Expirer(Publisher(bus), wiring.expiries)
    scheduler = wiring.scheduler

    async def startup(ctx: dict[str, Any]) -> None:
        stack = AsyncExitStack()
        ctx["stack"] = stack
        ctx["expirer"] = expirer
        restored = await expirer.reconcile(scheduler)
        logger.info("worker started", extra={"expired_on_start": restored})
        await stack.enter_async_context(
            running_every(
                settings.reconcile_seconds,
                partial(_reconcile, expirer, scheduler),
                name="expiry reconciliation",
            )
        )

    async def shutdown(ctx: dict[str, Any]) -> None:
        stack: AsyncExitStack | None = ctx.get("stack")
        if stack is not None:
            await stack.aclose()

    return ExpiryWorker(
        functions=[func(expire_order, name=EXPIRE_JOB)],
        redis_pool=wiring.redis,
        queue_name=settings.queue_name,
        health_check_key=health_key(settings.queue_name),
        health_check_interval=settings.worker_health_seconds,
        busy_seconds=settings.worker_poll_seconds,
        idle_seconds=settings.worker_idle_seconds,
        max_jobs=settings.worker_max_jobs,
        max_tries=50,
        job_timeout=60,
        # The job id must keep refusing duplicates long after the job ran.
        keep_result=7 * 24 * 3600,
        on_startup=startup,
        on_shutdown=shutdown,
        handle_signals=handle_signals,
    )


async def open_dependencies(
    settings: ExpirationSettings, stack: AsyncExitStack
) -> tuple[Wiring, EventBus]:
    # No document classes: the HTTP side owns them (and their indexes).
    context = await stack.enter_async_context(service_context(settings, []))
    return await open_wiring(context), context.require_bus()


async def run(settings: ExpirationSettings) -> None:
    """Wait for Redis, MongoDB and NATS (a worker started before them waits, it does not exit),
    then fire timers until SIGTERM or SIGINT."""
    async with AsyncExitStack() as stack:
        stack.enter_context(serving_metrics(settings.metrics_port, settings.host))
        wiring, bus = await open_with_retry(partial(open_dependencies, settings), stack)
        worker = build_worker(wiring, bus)
        try:
            await worker.async_run()
        except asyncio.CancelledError:
            pass  # the worker's own signal handler cancels it: a normal stop
        finally:
            await worker.close()


async def check(settings: ExpirationSettings) -> bool:
    try:
        redis = await arq_pool(settings.redis_url, settings.queue_name)
    except ServiceUnavailable:
        return False
    try:
        return await worker_alive(redis, settings.queue_name)
    finally:
        await redis.aclose(close_connection_pool=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="expiration.worker", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 0 if a worker is alive")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(ExpirationSettings)
    except ConfigurationError as error:
        print(error, file=sys.stderr)  # noqa: T201 - logging is not configured yet
        return 2
    if args.check:
        return 0 if asyncio.run(check(settings)) else 1
    configure_logging(f"{settings.service_name}-worker", settings.log_level)
    configure_tracing(f"{settings.service_name}-worker")
    asyncio.run(run(settings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
