"""Tickets and orders together, each with its own database, on one real JetStream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from flows_support import Platform
from pymongo import AsyncMongoClient

from orders.app import create_app as create_orders
from orders.settings import OrdersSettings
from tickets.app import create_app as create_tickets
from tickets.settings import TicketsSettings
from tixcommon.settings import load_settings
from tixcommon.testing import serve_app


@pytest.fixture
async def platform(
    service_env: dict[str, str], database_name: str, mongo: AsyncMongoClient[Any]
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
