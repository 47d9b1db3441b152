"""The app factory every service uses: one lifespan owns every client, one set of handlers
renders every error, one middleware stamps every request."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from beanie import Document
from fastapi import APIRouter, FastAPI

from tixcommon.auth import SessionCodec
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
from tixcommon.error_handlers import install_error_handlers
from tixcommon.health import router as health_router
from tixcommon.middleware import EdgeMiddleware
from tixcommon.settings import EventServiceSettings, ServiceSettings

logger = logging.getLogger("tixcommon.app")

ListenerFactory = Callable[[ServiceContext], Listener]  # type: ignore[type-arg]


def delivery_policy(settings: EventServiceSettings) -> DeliveryPolicy:
    return DeliveryPolicy(
        max_deliver=settings.listener_max_deliver,
        ack_wait_seconds=settings.listener_ack_wait_seconds,
        retry_base_seconds=settings.listener_retry_base_seconds,
        retry_max_seconds=settings.listener_retry_max_seconds,
        batch=settings.listener_batch,
    )


def create_app(
    settings: ServiceSettings,
    *,
    title: str,
    api_prefix: str,
    routers: Sequence[APIRouter],
    documents: Sequence[type[Document]],
    listeners: Sequence[ListenerFactory] = (),
    setup: Callable[[FastAPI, ServiceContext], Awaitable[None]] | None = None,
) -> FastAPI:
    """Build a service. Event settings give it a bus, an outbox relay and its listeners."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        mongo = mongo_client(
            settings.mongo_uri, app_name=settings.service_name, timeout_ms=settings.mongo_timeout_ms
        )
        database = mongo[settings.database_name]
        await init_documents(mongo, settings.database_name, documents)
        context = ServiceContext(settings=settings, mongo=mongo, database=database)
        relay: OutboxRelay | None = None
        runners: list[ListenerRunner] = []

        if isinstance(settings, EventServiceSettings):
            bus = await EventBus.connect(
                settings.nats_url,
                client_name=settings.service_name,
                namespace=settings.events_namespace,
                stream_replicas=settings.events_stream_replicas,
                max_age_days=settings.events_max_age_days,
            )
            await bus.ensure_stream()
            relay = OutboxRelay(
                database[OUTBOX_COLLECTION],
                Publisher(bus),
                poll_seconds=settings.outbox_poll_seconds,
            )
            context.bus = bus
            context.outbox = Outbox(mongo, database[OUTBOX_COLLECTION], on_commit=relay.nudge)
            relay.start()
            policy = delivery_policy(settings)
            for factory in listeners:
                runner = ListenerRunner(
                    bus, factory(context), service=settings.service_name, policy=policy
                )
                await runner.start()
                runners.append(runner)

        app.state.context = context
        if setup is not None:
            await setup(app, context)
        app.state.session_codec = SessionCodec(
            settings.jwt_key.get_secret_value(), settings.jwt_lifetime_seconds
        )
        logger.info("service started", extra={"listeners": [runner.durable for runner in runners]})
        try:
            yield
        finally:
            # Stop taking events first (finishing the one in hand), then stop publishing, then
            # drain the connection so nothing acked or published is left in a buffer.
            await asyncio.gather(*(runner.stop() for runner in runners))
            if relay is not None:
                await relay.stop()
            if context.bus is not None:
                await context.bus.close()
            await mongo.close()
            logger.info("service stopped")

    app = FastAPI(
        title=title,
        lifespan=lifespan,
        redirect_slashes=False,
        openapi_url=f"{api_prefix}/openapi.json",
        docs_url=f"{api_prefix}/docs",
        redoc_url=None,
    )
    install_error_handlers(app)
    app.add_middleware(EdgeMiddleware, max_body_bytes=settings.max_body_bytes)
    app.include_router(health_router)
    for router in routers:
        app.include_router(router)
    return app
