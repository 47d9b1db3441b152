"""Liveness and readiness, with a database that really goes away and comes back."""

from __future__ import annotations

import httpx
import pytest
from demo_service import build_demo_app

from tixtest import MongoServer, serve_app, wait_until


async def test_healthz_and_readyz_when_everything_is_up(demo: httpx.AsyncClient) -> None:
    alive = await demo.get("/healthz")
    ready = await demo.get("/readyz")

    assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"mongo": "ok", "nats": "ok"}}


async def test_readyz_reports_a_lost_database_and_recovers(
    service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with MongoServer() as database:
        monkeypatch.setenv("MONGO_URI", database.url)
        monkeypatch.setenv("MONGO_TIMEOUT_MS", "500")
        async with serve_app(build_demo_app()) as client:
            database.kill()

            down = await client.get("/readyz")
            alive = await client.get("/healthz")

            assert down.status_code == 503
            assert down.json()["errors"][0]["message"].startswith("mongo unreachable")
            assert alive.status_code == 200

            database.start()

            async def ready() -> bool:
                return (await client.get("/readyz")).status_code == 200

            await wait_until(ready, timeout=20, message="ready again")
