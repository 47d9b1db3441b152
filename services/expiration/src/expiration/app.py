"""The expiration service's HTTP side: it hears new orders and sets their timers; the worker
(`expiration.worker`) fires them. Health: `/readyz` also reports whether the worker is alive."""

from __future__ import annotations

from fastapi import FastAPI

from expiration.listeners import subscriptions
from expiration.models import Expiry
from expiration.settings import ExpirationSettings
from expiration.wiring import open_wiring, readiness_checks
from tixcommon.app import create_app as create_service_app


def create_app(settings: ExpirationSettings) -> FastAPI:
    return create_service_app(
        settings,
        title="TixVibe expiration",
        api_prefix="/api/expiration",
        routers=[],
        documents=[Expiry],
        wiring=open_wiring,
        subscriptions=subscriptions,
        readiness_checks=readiness_checks,
    )
