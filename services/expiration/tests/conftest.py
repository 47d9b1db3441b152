from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from arq import Worker

from expiration.app import create_app
from expiration.settings import ExpirationSettings
from expiration.worker import build_worker
from tixcommon.bus import EventBus, Publisher
from tixcommon.settings import load_settings
from tixcommon.testing import RedisServer, serve_app

StartWorker = Callable[[], Awaitable[Worker]]


@pytest.fixture
def expiration_env(
    service_env: dict[str, str], redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setenv("WORKER_HEALTH_SECONDS", "0.5")
    return {**service_env, "REDIS_URL": redis_server.url}


@pytest.fixture
def settings(expiration_env: dict[str, str]) -> ExpirationSettings:
    return load_settings(ExpirationSettings)


@pytest.fixture
async def client(settings: ExpirationSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_app(create_app(settings)) as http:
        yield http


@pytest.fixture
async def start_worker(settings: ExpirationSettings) -> AsyncIterator[StartWorker]:
    running: list[tuple[Worker, asyncio.Task[None]]] = []

    async def start() -> Worker:
        worker = build_worker(settings, handle_signals=False)
        task = asyncio.create_task(worker.async_run())
        running.append((worker, task))
        return worker

    yield start
    for worker, task in running:
        # Also for a worker a test killed: its Redis pool must still be closed.
        await worker.close()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
def publish(bus: EventBus) -> Publisher:
    return Publisher(bus)
