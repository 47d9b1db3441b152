"""The auth service's app: routes, documents and the services they use."""

from __future__ import annotations

from contextlib import AsyncExitStack

from fastapi import FastAPI

from auth.models import User
from auth.routes import router
from auth.service import AccountService, PasswordHasher
from auth.settings import AuthSettings
from tixcommon.app import create_app as create_service_app
from tixcommon.context import ServiceContext
from tixcommon.ratelimit import AttemptLimiter


def create_app(settings: AuthSettings) -> FastAPI:
    async def setup(app: FastAPI, context: ServiceContext, _: AsyncExitStack) -> None:
        attempts = context.database["signin_attempts"]
        email_limiter = AttemptLimiter(
            attempts,
            limit=settings.signin_max_failures_per_email,
            window_seconds=settings.signin_window_seconds,
        )
        address_limiter = AttemptLimiter(
            attempts,
            limit=settings.signin_max_failures_per_address,
            window_seconds=settings.signin_window_seconds,
        )
        await email_limiter.ensure_indexes()
        app.state.accounts = AccountService(PasswordHasher(), email_limiter, address_limiter)

    return create_service_app(
        settings,
        title="TixVibe auth",
        api_prefix="/api/users",
        routers=[router],
        documents=[User],
        setup=setup,
    )
