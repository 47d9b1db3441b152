"""The clients a running service owns, created by the lifespan and handed out by dependencies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from tixcommon.bus import EventBus, Outbox
from tixcommon.errors import ServiceUnavailable
from tixcommon.settings import ServiceSettings


@dataclass
class ServiceContext:
    settings: ServiceSettings
    mongo: AsyncMongoClient[Any]
    database: AsyncDatabase[Any]
    bus: EventBus | None = None
    outbox: Outbox | None = None
    # The service's own clients (Stripe, Redis, ...), created by its setup hook.
    extras: dict[str, Any] = field(default_factory=dict)

    def require_outbox(self) -> Outbox:
        if self.outbox is None:
            raise RuntimeError(f"{self.settings.service_name} is not configured for events")
        return self.outbox


async def get_context(request: Request) -> ServiceContext:
    context: ServiceContext | None = request.app.state.context
    if context is None:
        raise ServiceUnavailable("Service is starting, try again shortly")
    return context


async def require_started(request: Request) -> None:
    """Refuse a request that arrives while the service still waits for its dependencies."""
    await get_context(request)


Context = Annotated[ServiceContext, Depends(get_context)]
