"""The room's Redis going away and coming back: 503s meanwhile, and every place kept."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from room_kit import Clock, Join, ListSale

from tixcommon.settings import load_settings
from tixtest import RedisServer, SignedInUser, serve_app
from waitingroom.app import create_app
from waitingroom.settings import WaitingRoomSettings


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own, append-only as the room's runs everywhere, to restart."""
    server = RedisServer(data_dir=tmp_path / "redis", append_only=True)
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def app(
    room_env: dict[str, str], own_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> FastAPI:
    monkeypatch.setenv("REDIS_URL", own_redis.url)
    return create_app(load_settings(WaitingRoomSettings))


async def test_places_survive_a_restart_of_redis_and_it_is_a_503_while_away(
    client: httpx.AsyncClient,
    make_user: Callable[..., SignedInUser],
    list_sale: ListSale,
    join: Join,
    own_redis: RedisServer,
    clock: Clock,
) -> None:
    sale = await list_sale(starts_in=-1)
    buyers = [make_user() for _ in range(3)]
    for user in buyers:
        assert (await join(user, sale.id)).status_code == 201
    own_redis.stop()
    away = await client.get(f"/api/waitingroom/{sale.id}", headers=buyers[0].headers)
    assert away.status_code == 503
    assert away.json()["errors"][0]["message"].startswith("Service unavailable")
    own_redis.start()
    places = []
    for user in buyers:
        answer = await client.get(f"/api/waitingroom/{sale.id}", headers=user.headers)
        assert answer.status_code == 200, answer.text
        places.append(answer.json()["position"])
    assert places == [1, 2, 3]


async def test_a_new_process_finds_every_place(
    app: FastAPI,
    client: httpx.AsyncClient,
    make_user: Callable[..., SignedInUser],
    list_sale: ListSale,
    join: Join,
    room_env: dict[str, str],
    own_redis: RedisServer,
) -> None:
    sale = await list_sale(starts_in=-1)
    buyers = [make_user() for _ in range(3)]
    for user in buyers:
        await join(user, sale.id)
    # Another process of the room (a restarted pod) on the same Redis.
    async with serve_app(create_app(load_settings(WaitingRoomSettings))) as other:
        for position, user in enumerate(buyers, start=1):
            answer = await other.get(f"/api/waitingroom/{sale.id}", headers=user.headers)
            assert answer.json()["position"] == position
