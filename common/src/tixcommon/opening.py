"""Opening and closing what a service process owns, for HTTP apps and workers alike."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, TypeVar

from beanie import Document

from tixcommon.bus import (
    DeliveryPolicy,
    EventBus,
    Listener,
    ListenerRunner,
    Outbox,
    OutboxRelay,
    Publisher,
)
from tixcommon.bus.outbox import OUTBOX_COLLECTION
from tixcommon.context import ServiceContext, SettingsT
from tixcommon.db import init_documents, mongo_client
from tixcommon.outages import is_outage
from tixcommon.periodic import running_every
from tixcommon.settings import EventServiceSettings

logger = logging.getLogger(__name__)

T = TypeVar("T")

_START_RETRY_FIRST_SECONDS = 0.5
_START_RETRY_MAX_SECONDS = 10.0


async def open_with_retry(
    open_all: Callable[[AsyncExitStack], Awaitable[T]],
    stack: AsyncExitStack,
    *,
    on_failure: Callable[[BaseException], None] | None = None,
) -> T:
    """Open what `open_all` opens (onto the stack it is given), again and again until it works,
    then hand its cleanup to `stack`.

    A process started before its database, broker or Redis waits for them instead of exiting:
    in a cluster an exit is a CrashLoopBackOff whose back-off grows to minutes, long after the
    dependency is back. Each failed attempt closes what it had opened before the next."""
    delay = _START_RETRY_FIRST_SECONDS
    while True:
        async with AsyncExitStack() as attempt:
            try:
                opened = await open_all(attempt)
            except Exception as error:  # noqa: BLE001 - logged; retrying is the point
                if on_failure is not None:
                    on_failure(error)
                # An outage is expected at start; anything else is a fault worth a traceback,
                # but still no reason to exit (the pod stays not ready and says why).
                expected = is_outage(error) or isinstance(error, OSError | TimeoutError)
                log = logger.warning if expected else logger.exception
                log(
                    "dependencies unavailable at start, retrying",
                    extra={"error": repr(error), "retry_in_seconds": delay},
                )
            else:
                stack.push_async_exit(attempt.pop_all())
                return opened
        if _cancel_requested():
            raise asyncio.CancelledError
        await asyncio.sleep(delay)  # a back-off between attempts, not a wait for a condition
        delay = min(delay * 2, _START_RETRY_MAX_SECONDS)


def _cancel_requested() -> bool:
    # On Python 3.11 asyncio.wait_for can lose a cancel that lands as a read completes (pymongo
    # uses it; see tixcommon.periodic): the attempt then fails as an outage and the loop would
    # retry for ever, so a SIGTERM while waiting hung. The task still counts the request.
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def delivery_policy(settings: EventServiceSettings) -> DeliveryPolicy:
    return DeliveryPolicy(
        max_deliver=settings.listener_max_deliver,
        ack_wait_seconds=settings.listener_ack_wait_seconds,
        retry_base_seconds=settings.listener_retry_base_seconds,
        retry_max_seconds=settings.listener_retry_max_seconds,
        batch=settings.listener_batch,
    )


@asynccontextmanager
async def service_context(
    settings: SettingsT, documents: Sequence[type[Document]]
) -> AsyncIterator[ServiceContext[SettingsT]]:
    """Mongo (documents bound, indexes made) and, for event services, the bus, the outbox and
    its relay. Closed in reverse order: the service's own clients (its `exit_stack`), then stop
    publishing, drain the connection, close Mongo."""
    mongo = mongo_client(
        settings.mongo_uri, app_name=settings.service_name, timeout_ms=settings.mongo_timeout_ms
    )
    async with AsyncExitStack() as stack:
        stack.push_async_callback(mongo.close)
        database = mongo[settings.database_name]
        await init_documents(mongo, settings.database_name, documents)
        bus: EventBus | None = None
        outbox: Outbox | None = None
        if isinstance(settings, EventServiceSettings):
            bus = await EventBus.connect(
                settings.nats_url,
                client_name=settings.service_name,
                namespace=settings.events_namespace,
                stream_replicas=settings.events_stream_replicas,
                max_age_days=settings.events_max_age_days,
                drain_timeout=settings.drain_timeout_seconds,
            )
            stack.push_async_callback(bus.close)
            await bus.ensure_stream()
            relay = OutboxRelay(
                database[OUTBOX_COLLECTION],
                Publisher(bus),
                poll_seconds=settings.outbox_poll_seconds,
            )
            relay.start()
            stack.push_async_callback(relay.stop)
            outbox = Outbox(mongo, database[OUTBOX_COLLECTION], on_commit=relay.hand_over)
        own = await stack.enter_async_context(AsyncExitStack())
        yield ServiceContext(settings, mongo, database, own, bus=bus, outbox=outbox)


@asynccontextmanager
async def running_listeners(
    context: ServiceContext[SettingsT], listeners: Sequence[Listener[Any]]
) -> AsyncIterator[list[ListenerRunner]]:
    """Start each listener on its durable consumer; on exit, finish the event in hand."""
    runners: list[ListenerRunner] = []
    settings = context.settings
    if listeners:
        if not isinstance(settings, EventServiceSettings):
            raise RuntimeError("listeners need EventServiceSettings")
        policy = delivery_policy(settings)
        for listener in listeners:
            runner = ListenerRunner(
                context.require_bus(), listener, service=settings.service_name, policy=policy
            )
            await runner.start()
            runners.append(runner)
    try:
        yield runners
    finally:
        await asyncio.gather(*(runner.stop() for runner in runners))


@asynccontextmanager
async def sampling_metrics(
    context: ServiceContext[SettingsT], runners: Sequence[ListenerRunner]
) -> AsyncIterator[None]:
    """While metrics are served, read the consumers' lag and the outbox's depth into them
    every so often (JetStream and the database are asked, never the request path)."""
    settings = context.settings
    outbox = context.outbox
    if settings.metrics_port is None or not isinstance(settings, EventServiceSettings):
        yield
        return

    async def sample() -> None:
        await asyncio.gather(
            *(runner.sample_lag() for runner in runners),
            *([outbox.sample_depth()] if outbox is not None else []),
        )

    async with running_every(settings.metrics_sample_seconds, sample, name="metrics sampling"):
        yield
