from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from tickets.app import create_app
from tickets.settings import TicketsSettings
from tixcommon.settings import load_settings
from tixtest import SignedInUser, serve_app


@pytest.fixture
async def client(service_env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_app(create_app(load_settings(TicketsSettings))) as http:
        yield http


@pytest.fixture
async def tickets(service_env: dict[str, str]) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app itself beside its client, for tests that call its wiring directly."""
    app = create_app(load_settings(TicketsSettings))
    async with serve_app(app) as http:
        yield app, http


@pytest.fixture
def seller(make_user: Callable[..., SignedInUser]) -> SignedInUser:
    return make_user()


@pytest.fixture
async def listed(client: httpx.AsyncClient, seller: SignedInUser) -> dict[str, object]:
    response = await client.post(
        "/api/tickets", json={"title": "Concert", "price": 20}, headers=seller.headers
    )
    assert response.status_code == 201
    ticket: dict[str, object] = response.json()
    return ticket
