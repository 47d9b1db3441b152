from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import httpx
import pytest
from bson import ObjectId
from fastapi import FastAPI
from room_kit import (
    ADMISSION_SECONDS,
    ADMIT_PER_MINUTE,
    DIFFICULTY,
    Clock,
    Join,
    ListSale,
    Sale,
    SetAvailable,
    solve_for,
)

from tixcommon.bus import Publisher
from tixcommon.events import TicketCreated, TicketUpdated
from tixcommon.settings import load_settings
from tixtest import RedisServer, SignedInUser, serve_app, wait_until
from waitingroom.app import create_app
from waitingroom.service import WaitingRoom
from waitingroom.settings import WaitingRoomSettings
from waitingroom.wiring import Wiring


@pytest.fixture
def room_env(
    service_env: dict[str, str],
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    env = {
        "REDIS_URL": redis_server.url,
        "WAITING_ROOM_DIFFICULTY": str(DIFFICULTY),
        "WAITING_ROOM_ADMIT_PER_MINUTE": str(ADMIT_PER_MINUTE),
        "WAITING_ROOM_ADMISSION_SECONDS": str(ADMISSION_SECONDS),
        # The tests admit by calling `advance` on the test's clock; the loop keeps out of it.
        "WAITING_ROOM_TICK_SECONDS": "3600",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return {**service_env, **env}


@pytest.fixture
def settings(room_env: dict[str, str]) -> WaitingRoomSettings:
    return load_settings(WaitingRoomSettings)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(settings: WaitingRoomSettings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
async def client(app: FastAPI, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_app(app) as http:
        wiring = app.state.wiring
        assert isinstance(wiring, Wiring)
        wiring.room.clock = clock
        yield http


@pytest.fixture
def room(app: FastAPI, client: httpx.AsyncClient) -> WaitingRoom:
    wiring = app.state.wiring
    assert isinstance(wiring, Wiring)
    return wiring.room


@pytest.fixture
def buyer(make_user: Callable[..., SignedInUser]) -> SignedInUser:
    return make_user()


@pytest.fixture
def join(client: httpx.AsyncClient) -> Join:
    async def joined(
        user: SignedInUser, ticket_id: str, *, address: str = "203.0.113.7"
    ) -> httpx.Response:
        return await client.post(
            f"/api/waitingroom/{ticket_id}",
            json={"altcha": await solve_for(client, user)},
            headers={**user.headers, "X-Forwarded-For": address},
        )

    return joined


@pytest.fixture
def list_sale(
    client: httpx.AsyncClient, publish: Publisher, room: WaitingRoom, clock: Clock
) -> ListSale:
    async def listed(
        *, starts_in: float = 60, quantity: int = 10, per_buyer_limit: int | None = None
    ) -> Sale:
        on_sale_at = clock.now + timedelta(seconds=starts_in)
        sale = Sale(str(ObjectId()), on_sale_at, quantity, per_buyer_limit)
        await publish.publish(
            TicketCreated(
                id=sale.id,
                version=0,
                title="The on-sale",
                price=50,
                user_id="e" * 24,
                quantity=quantity,
                available=quantity,
                on_sale_at=sale.on_sale_at,
                per_buyer_limit=per_buyer_limit,
            )
        )
        await wait_until(lambda: room.store.on_sale_at(sale.id), message="room opened")
        return sale

    return listed


@pytest.fixture
def set_available(publish: Publisher, room: WaitingRoom) -> SetAvailable:
    """The ticket's next version, with this many seats left (orders took or gave some back)."""

    async def changed(sale: Sale, available: int) -> None:
        sale.version += 1
        await publish.publish(
            TicketUpdated(
                id=sale.id,
                version=sale.version,
                title="The on-sale",
                price=50,
                user_id="e" * 24,
                quantity=sale.quantity,
                available=available,
                on_sale_at=sale.on_sale_at,
                per_buyer_limit=sale.per_buyer_limit,
            )
        )

        async def seen() -> bool:
            version = await room.store.version(sale.id)
            return version is not None and version >= sale.version

        await wait_until(seen, message="ticket update applied")

    return changed
