"""The app factory every service uses: one lifespan owns every client, one set of handlers
renders every error, one middleware stamps every request."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

from beanie import Document
from fastapi import APIRouter, FastAPI

from tixcommon.auth import SessionCodec
from tixcommon.context import ServiceContext
from tixcommon.error_handlers import install_error_handlers
from tixcommon.health import ReadinessCheck
from tixcommon.health import router as health_router
from tixcommon.middleware import EdgeMiddleware
from tixcommon.openapi import contract_openapi
from tixcommon.runtime import ListenerFactory, running_listeners, service_context
from tixcommon.settings import ServiceSettings

Setup = Callable[[FastAPI, ServiceContext, AsyncExitStack], Awaitable[None]]

logger = logging.getLogger("tixcommon.app")


def create_app(
    settings: ServiceSettings,
    *,
    title: str,
    api_prefix: str,
    routers: Sequence[APIRouter],
    documents: Sequence[type[Document]],
    listeners: Sequence[ListenerFactory] = (),
    setup: Setup | None = None,
    readiness_checks: Mapping[str, ReadinessCheck] | None = None,
) -> FastAPI:
    """Build a service. Event settings give it a bus, an outbox relay and its listeners.

    `setup` runs in the lifespan before the listeners start: it creates the service's own
    clients (into `context.extras`) and registers their cleanup on the exit stack."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            context = await stack.enter_async_context(service_context(settings, documents))
            app.state.context = context
            app.state.session_codec = SessionCodec(
                settings.jwt_key.get_secret_value(), settings.jwt_lifetime_seconds
            )
            app.state.readiness_checks = dict(readiness_checks or {})
            if setup is not None:
                await setup(app, context, stack)
            # Entered last, so left first: stop taking events before anything closes.
            runners = await stack.enter_async_context(running_listeners(context, listeners))
            logger.info("service started", extra={"listeners": [r.durable for r in runners]})
            yield
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
    app.openapi = lambda: contract_openapi(app)  # type: ignore[method-assign]
    return app
