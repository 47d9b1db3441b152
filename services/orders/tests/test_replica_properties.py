"""Property: whatever order, duplication and redelivery the ticket events arrive in, the orders
service's ticket replica ends equal to the ticket as tickets last announced it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from bson import ObjectId
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from orders.app import create_app
from orders.listeners import subscriptions
from orders.models import TicketReplica
from orders.settings import OrdersSettings
from tixcommon.events import TicketCreated, TicketUpdated
from tixcommon.money import to_cents
from tixcommon.settings import load_settings
from tixtest import deliver_until_settled, serve_app
from tixtest.histories import REAL_SERVERS, redeliveries, ticket_histories


@pytest.fixture
async def orders(service_env: dict[str, str], mail_env: dict[str, str]) -> AsyncIterator[FastAPI]:
    app = create_app(load_settings(OrdersSettings))
    async with serve_app(app):
        yield app


@REAL_SERVERS
@given(data=st.data(), history=ticket_histories())
async def test_ticket_replica_ends_as_the_ticket_whatever_the_delivery(
    orders: FastAPI, data: st.DataObject, history: list[TicketCreated | TicketUpdated]
) -> None:
    listeners = {listener.event_type: listener for listener in subscriptions(orders.state.wiring)}
    extra = data.draw(redeliveries(list(history)))
    await deliver_until_settled(
        listeners, [*history, *extra], lambda n: data.draw(st.integers(0, n - 1))
    )
    final = history[-1]
    replica = await TicketReplica.get(ObjectId(final.id))
    assert replica is not None
    assert (replica.title, replica.price_cents, replica.version) == (
        final.title,
        to_cents(final.price),
        final.version,
    )
