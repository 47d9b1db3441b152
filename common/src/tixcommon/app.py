"""The app factory every service uses: one lifespan owns every client, one set of handlers
renders every error, one middleware stamps every request."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from beanie import Document
from fastapi import APIRouter, Depends, FastAPI
from fastapi.telemetry import TelemetryConfig

from tixcommon.auth import SessionCodec
from tixcommon.bus import Listener
from tixcommon.context import ServiceContext, SettingsT, WiringT, require_started
from tixcommon.error_handlers import install_error_handlers
from tixcommon.health import ReadinessCheck
from tixcommon.health import router as health_router
from tixcommon.idempotency import IdempotencyStore
from tixcommon.metrics import serving_metrics
from tixcommon.middleware import EdgeMiddleware
from tixcommon.openapi import contract_openapi
from tixcommon.opening import (
    open_with_retry,
    running_listeners,
    sampling_metrics,
    service_context,
)
from tixcommon.revocations import RevokedSessions, following_revocations
from tixcommon.tracing import configure_tracing, instrument_app

OpenWiring = Callable[[ServiceContext[SettingsT]], Awaitable[WiringT]]
"""A service's `wiring.open`: its collaborators, built on the opened shared clients."""

logger = logging.getLogger(__name__)


_NO_FASTAPI_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def _nothing(_: object) -> Sequence[Any]:
    return ()


def _no_checks(_: object) -> Mapping[str, ReadinessCheck]:
    return {}


def create_app(
    settings: SettingsT,
    *,
    title: str,
    api_prefix: str,
    routers: Sequence[APIRouter],
    documents: Sequence[type[Document]],
    wiring: OpenWiring[SettingsT, WiringT],
    subscriptions: Callable[[WiringT], Sequence[Listener[Any]]] = _nothing,
    readiness_checks: Callable[[WiringT], Mapping[str, ReadinessCheck]] = _no_checks,
) -> FastAPI:
    """Build a service. Event settings give it a bus, an outbox relay and its listeners.

    `wiring` runs once the database and the bus are open, before the listeners start: it builds
    the service's typed wiring (routes reach it with `tixcommon.context.opened`), registering
    the cleanup of its own clients on `context.exit_stack`. `subscriptions` are the listeners
    of that wiring. All of it is retried, from the start, until every dependency answers."""

    revoked = RevokedSessions(settings.jwt_lifetime_seconds)

    async def open_all(stack: AsyncExitStack) -> tuple[ServiceContext[SettingsT], WiringT]:
        context = await stack.enter_async_context(service_context(settings, documents))
        await IdempotencyStore(context.database).create_indexes()
        if context.bus is not None:
            # Before any request is answered: a session ended while this process was down is
            # refused from its first answer (tixcommon.revocations).
            await stack.enter_async_context(
                following_revocations(context.bus, revoked, process=settings.service_name)
            )
        opened = await wiring(context)
        # Entered last, so left first: stop taking events before anything closes.
        runners = await stack.enter_async_context(running_listeners(context, subscriptions(opened)))
        await stack.enter_async_context(sampling_metrics(context, runners))
        logger.info("service started", extra={"listeners": [r.durable for r in runners]})
        return context, opened

    def note_failure(error: BaseException) -> None:
        # What /readyz says while starting; the log has the whole error.
        app.state.startup_error = f"waiting for dependencies ({type(error).__name__})"

    async def start(stack: AsyncExitStack) -> None:
        context, opened = await open_with_retry(open_all, stack, on_failure=note_failure)
        app.state.readiness_checks = dict(readiness_checks(opened))
        app.state.context, app.state.wiring = context, opened

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.session_codec = SessionCodec(
            settings.jwt_key.get_secret_value(), settings.jwt_lifetime_seconds, revoked
        )
        app.state.readiness_checks = {}
        app.state.context = app.state.wiring = None
        app.state.startup_error = None
        async with AsyncExitStack() as stack:
            stack.enter_context(serving_metrics(settings.metrics_port, settings.host))
            # The server answers at once (/healthz: alive; /readyz: not yet, and why) while the
            # dependencies are opened in the background, for as long as they take to appear.
            starting = asyncio.create_task(start(stack), name="opening dependencies")
            try:
                yield
            finally:
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await starting
        logger.info("service stopped")

    traced = configure_tracing(settings.service_name)
    app = FastAPI(
        title=title,
        lifespan=lifespan,
        # Untraced, FastAPI's own OpenTelemetry would still look up the three global providers
        # on every request (about 4 us of CPU) to find nothing installed; traced, as it was.
        telemetry=None if traced else _NO_FASTAPI_TELEMETRY,
        redirect_slashes=False,
        openapi_url=f"{api_prefix}/openapi.json",
        docs_url=f"{api_prefix}/docs",
        redoc_url=None,
        # An operation is named as its handler (`place_order`), as a generated client calls it;
        # handlers' names are unique across the platform, which the merged document needs.
        generate_unique_id_function=lambda route: route.name,
    )
    install_error_handlers(app)
    app.add_middleware(EdgeMiddleware, max_body_bytes=settings.max_body_bytes)
    if traced:
        instrument_app(app)
    app.include_router(health_router)
    for router in routers:
        # Every route but the health checks answers 503 until the dependencies are open.
        app.include_router(router, dependencies=[Depends(require_started)])
    app.openapi = lambda: contract_openapi(app)  # type: ignore[method-assign]
    return app
