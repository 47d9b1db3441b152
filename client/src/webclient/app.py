"""The web client's app: pages, static files, and one HTTP pool to the services."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tixcommon.metrics import serving_metrics
from tixcommon.middleware import EdgeMiddleware
from tixcommon.tracing import configure_tracing, instrument_app
from webclient.api import Backend
from webclient.api_document import KeptDocument
from webclient.api_document import router as api_document_router
from webclient.errors import install_page_errors, render_edge_error
from webclient.pages import router as pages_router
from webclient.rendering import STATIC_DIR, ImmutableStatic, Pages
from webclient.security import SecurityHeaders
from webclient.settings import ClientSettings

logger = logging.getLogger(__name__)


def create_app(settings: ClientSettings) -> FastAPI:

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        backend = Backend(settings)
        app.state.backend = backend
        try:
            with serving_metrics(settings.metrics_port, settings.host):
                logger.info("client started", extra={"api_url": settings.api_url})
                yield
        finally:
            await backend.aclose()

    app = FastAPI(
        title="TixVibe",
        lifespan=lifespan,
        redirect_slashes=False,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.pages = Pages(settings)
    app.state.api_document = KeptDocument()
    install_page_errors(app)
    app.add_middleware(SecurityHeaders, stripe_origins=settings.stripe_origins)
    app.add_middleware(
        EdgeMiddleware, max_body_bytes=settings.max_body_bytes, render_error=render_edge_error
    )
    if configure_tracing(settings.service_name):
        instrument_app(app)

    # The client's liveness and readiness are its own: a backend being down shows as an error
    # page, not as a client to restart or take out of rotation.
    @app.get("/healthz", include_in_schema=False)
    @app.get("/readyz", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.mount("/static", ImmutableStatic(directory=STATIC_DIR), name="static")
    app.include_router(api_document_router)
    app.include_router(pages_router)
    return app
