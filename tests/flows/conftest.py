"""Tickets and orders together, each with its own database, on one real JetStream."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest
from fastapi import FastAPI
from flows_support import Platform, Saga
from pymongo import AsyncMongoClient

from expiration.app import create_app as create_expiration
from expiration.settings import ExpirationSettings
from orders.app import create_app as create_orders
from orders.settings import OrdersSettings
from payments.app import create_app as create_payments
from payments.settings import PaymentsSettings
from tickets.app import create_app as create_tickets
from tickets.settings import TicketsSettings
from tixcommon.settings import ServiceSettings, SettingsT, load_settings
from tixtest import RedisServer, StripeServer, serve_app


@pytest.fixture
async def platform(
    service_env: dict[str, str],
    mail_env: dict[str, str],
    database_name: str,
    mongo: AsyncMongoClient[Any],
) -> AsyncIterator[Platform]:
    tickets_settings = load_settings(TicketsSettings).model_copy(
        update={"mongo_db": f"{database_name}_tickets"}
    )
    orders_settings = load_settings(OrdersSettings).model_copy(
        update={"mongo_db": f"{database_name}_orders"}
    )
    async with AsyncExitStack() as stack:
        tickets = await stack.enter_async_context(serve_app(create_tickets(tickets_settings)))
        orders = await stack.enter_async_context(serve_app(create_orders(orders_settings)))
        yield Platform(tickets=tickets, orders=orders)
    for suffix in ("tickets", "orders"):
        await mongo.drop_database(f"{database_name}_{suffix}")


@pytest.fixture
async def saga(
    service_env: dict[str, str],
    mail_env: dict[str, str],
    database_name: str,
    mongo: AsyncMongoClient[Any],
    redis_server: RedisServer,
    stripe_server: StripeServer,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Saga]:
    webhook_secret = f"whsec_{secrets.token_hex(16)}"
    for name, value in {
        "REDIS_URL": redis_server.url,
        "STRIPE_KEY": f"sk_test_{secrets.token_hex(12)}",
        "STRIPE_WEBHOOK_SECRET": webhook_secret,
        "STRIPE_API_BASE": stripe_server.url,
        "EXPIRATION_WINDOW_SECONDS": "3",
    }.items():
        monkeypatch.setenv(name, value)

    def own_database(settings: SettingsT, name: str) -> SettingsT:
        return settings.model_copy(update={"mongo_db": f"{database_name}_{name}"})

    expiration_settings = own_database(load_settings(ExpirationSettings), "expiration")
    async with AsyncExitStack() as stack:
        services: list[tuple[str, Callable[[Any], FastAPI], ServiceSettings]] = [
            ("tickets", create_tickets, load_settings(TicketsSettings)),
            ("orders", create_orders, load_settings(OrdersSettings)),
            ("payments", create_payments, load_settings(PaymentsSettings)),
            ("expiration", create_expiration, expiration_settings),
        ]
        apps = {
            name: await stack.enter_async_context(serve_app(factory(own_database(settings, name))))
            for name, factory, settings in services
        }
        # The worker runs as its own process, as in production.
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "expiration.worker",
            env={**os.environ, "MONGO_DB": expiration_settings.mongo_db},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            yield Saga(**apps, webhook_secret=webhook_secret)
        finally:
            worker.terminate()
            await worker.wait()
    for name in ("tickets", "orders", "payments", "expiration"):
        await mongo.drop_database(f"{database_name}_{name}")
