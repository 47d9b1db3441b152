"""The auth service's app: routes, documents and the wiring they use."""

from __future__ import annotations

from fastapi import FastAPI

from auth.models import PasswordReset, User
from auth.routes import router
from auth.settings import AuthSettings
from auth.wiring import open_wiring
from tixcommon.app import create_app as create_service_app


def create_app(settings: AuthSettings) -> FastAPI:
    return create_service_app(
        settings,
        title="TixVibe auth",
        api_prefix="/api/users",
        routers=[router],
        documents=[User, PasswordReset],
        wiring=open_wiring,
    )
