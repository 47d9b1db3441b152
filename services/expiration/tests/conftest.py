from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from expiration.app import create_app
from expiration.settings import ExpirationSettings
from tixcommon.settings import load_settings
from tixtest import RedisServer, serve_app


class WorkerProcess:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, env: dict[str, str]) -> WorkerProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "expiration.worker",
            env={**os.environ, **env},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        return cls(process)

    async def stop(self) -> None:
        """SIGTERM, as Kubernetes stops a pod: arq finishes what it holds and exits."""
        if self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


StartWorker = Callable[..., Awaitable[WorkerProcess]]


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
async def start_worker(expiration_env: dict[str, str]) -> AsyncIterator[StartWorker]:
    """Worker processes, as production runs them (`python -m expiration.worker`)."""
    running: list[WorkerProcess] = []

    async def start(**env: str) -> WorkerProcess:
        worker = await WorkerProcess.start({**expiration_env, **env})
        running.append(worker)
        return worker

    yield start
    for worker in running:
        await worker.stop()
