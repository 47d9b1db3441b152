"""The waiting room's app: its routes, its listeners, and Redis in its readiness."""

from __future__ import annotations

from fastapi import FastAPI

from tixcommon.app import create_app as create_service_app
from waitingroom.listeners import subscriptions
from waitingroom.routes import router
from waitingroom.settings import WaitingRoomSettings
from waitingroom.wiring import open_wiring, readiness_checks


def create_app(settings: WaitingRoomSettings) -> FastAPI:
    return create_service_app(
        settings,
        title="TixVibe waiting room",
        api_prefix="/api/waitingroom",
        routers=[router],
        documents=[],
        wiring=open_wiring,
        subscriptions=subscriptions,
        readiness_checks=readiness_checks,
    )
