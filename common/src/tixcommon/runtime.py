"""Opening and closing what a service process owns, for HTTP apps and workers alike."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

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
from tixcommon.context import ServiceContext
from tixcommon.db import init_documents, mongo_client
from tixcommon.settings import EventServiceSettings, ServiceSettings

logger = logging.getLogger("tixcommon.runtime")

ListenerFactory = Callable[[ServiceContext], Listener]  # type: ignore[type-arg]


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
    settings: ServiceSettings, documents: Sequence[type[Document]]
) -> AsyncIterator[ServiceContext]:
    """Mongo (documents bound, indexes made) and, for event services, the bus, the outbox and
    its relay. Closed in reverse order: stop publishing, drain the connection, close Mongo."""
    mongo = mongo_client(
        settings.mongo_uri, app_name=settings.service_name, timeout_ms=settings.mongo_timeout_ms
    )
    async with AsyncExitStack() as stack:
        stack.push_async_callback(mongo.close)
        database = mongo[settings.database_name]
        await init_documents(mongo, settings.database_name, documents)
        context = ServiceContext(settings=settings, mongo=mongo, database=database)
        if isinstance(settings, EventServiceSettings):
            bus = await EventBus.connect(
                settings.nats_url,
                client_name=settings.service_name,
                namespace=settings.events_namespace,
                stream_replicas=settings.events_stream_replicas,
                max_age_days=settings.events_max_age_days,
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
            context.bus = bus
            context.outbox = Outbox(mongo, database[OUTBOX_COLLECTION], on_commit=relay.nudge)
        yield context


@asynccontextmanager
async def running_listeners(
    context: ServiceContext, listeners: Sequence[ListenerFactory]
) -> AsyncIterator[list[ListenerRunner]]:
    """Start each listener on its durable consumer; on exit, finish the event in hand."""
    runners: list[ListenerRunner] = []
    settings = context.settings
    if listeners:
        if context.bus is None or not isinstance(settings, EventServiceSettings):
            raise RuntimeError("listeners need EventServiceSettings")
        policy = delivery_policy(settings)
        for factory in listeners:
            runner = ListenerRunner(
                context.bus, factory(context), service=settings.service_name, policy=policy
            )
            await runner.start()
            runners.append(runner)
    try:
        yield runners
    finally:
        await asyncio.gather(*(runner.stop() for runner in runners))
