"""What a running service owns: the shared clients every service has (`ServiceContext`), and the
service's own typed wiring built on them, reached by routes through `opened`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Request
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from tixcommon.bus import EventBus, Outbox
from tixcommon.errors import ServiceUnavailable
from tixcommon.settings import ServiceSettings

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)
WiringT = TypeVar("WiringT")

STARTING = "Service is starting, try again shortly"


@dataclass
class ServiceContext(Generic[SettingsT]):
    settings: SettingsT
    mongo: AsyncMongoClient[Any]
    database: AsyncDatabase[Any]
    # Where the service's own clients (Stripe, Redis, ...) register their cleanup: closed
    # before the shared clients above.
    exit_stack: AsyncExitStack
    bus: EventBus | None = None
    outbox: Outbox | None = None

    def require_bus(self) -> EventBus:
        if self.bus is None:
            raise RuntimeError(f"{self.settings.service_name} is not configured for events")
        return self.bus

    def require_outbox(self) -> Outbox:
        if self.outbox is None:
            raise RuntimeError(f"{self.settings.service_name} is not configured for events")
        return self.outbox


def opened(request: Request, wiring_type: type[WiringT]) -> WiringT:
    """The service's wiring, or the contract's 503 while its dependencies are still opening."""
    wiring = request.app.state.wiring
    if wiring is None:
        raise ServiceUnavailable(STARTING)
    if not isinstance(wiring, wiring_type):
        raise TypeError(f"this app is wired with {type(wiring).__name__}, not {wiring_type}")
    return wiring


def opened_context(request: Request) -> ServiceContext[Any]:
    """The service's shared clients, or the contract's 503 while they are still opening."""
    context = request.app.state.context
    if context is None:
        raise ServiceUnavailable(STARTING)
    assert isinstance(context, ServiceContext)
    return context


def wiring_dependency(wiring_type: type[WiringT]) -> Callable[[Request], Awaitable[WiringT]]:
    """A FastAPI dependency on the service's wiring: `Annotated[Wiring, Depends(...)]`."""

    async def wiring(request: Request) -> WiringT:
        return opened(request, wiring_type)

    return wiring


async def require_started(request: Request) -> None:
    """Refuse a request that arrives while the service still waits for its dependencies."""
    if request.app.state.wiring is None:
        raise ServiceUnavailable(STARTING)
