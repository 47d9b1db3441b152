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
import logging
import sys
from contextlib import AsyncExitStack
from functools import partial
from typing import Any

from arq import Retry, Worker, func

from expiration.redis import arq_pool, health_key, worker_alive
from expiration.service import EXPIRE_JOB, Expirer, ExpiryScheduler
from expiration.settings import ExpirationSettings
from expiration.wiring import Wiring, open_wiring
from tixcommon.bus import EventBus, Publisher
from tixcommon.errors import ServiceUnavailable
from tixcommon.logging import configure_logging, log_context
from tixcommon.opening import open_with_retry, service_context
from tixcommon.periodic import running_every
from tixcommon.settings import ConfigurationError, load_settings

logger = logging.getLogger(__name__)


async def expire_order(ctx: dict[str, Any], order_id: str) -> bool:
    expirer: Expirer = ctx["expirer"]
    with log_context(order_id=order_id, job_try=ctx.get("job_try")):
        try:
            return await expirer.expire(order_id)
        except Exception as error:
            # Database or broker unavailable: try again shortly rather than drop the timer.
            logger.warning("expiry failed, retrying", extra={"error": repr(error)})
            raise Retry(defer=min(0.5 * 2 ** ctx.get("job_try", 1), 30)) from error


async def _reconcile(expirer: Expirer, scheduler: ExpiryScheduler) -> None:
    restored = await expirer.reconcile(scheduler)
    if restored:
        logger.warning("expired orders whose timers were lost", extra={"count": restored})


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

    return Worker(
        functions=[func(expire_order, name=EXPIRE_JOB)],
        redis_pool=wiring.redis,
        queue_name=settings.queue_name,
        health_check_key=health_key(settings.queue_name),
        health_check_interval=settings.worker_health_seconds,
        poll_delay=settings.worker_poll_seconds,
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
    asyncio.run(run(settings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
