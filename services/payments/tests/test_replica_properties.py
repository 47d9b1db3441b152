"""Property: whatever order, duplication and redelivery an order's events arrive in, the payments
service's order replica ends as orders last announced the order."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from bson import ObjectId
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from payments.app import create_app
from payments.listeners import subscriptions
from payments.models import OrderReplica
from payments.settings import PaymentsSettings
from tixcommon.events import OrderCreated, OrderStatus
from tixcommon.money import to_cents
from tixcommon.settings import load_settings
from tixtest import deliver_until_settled, serve_app
from tixtest.histories import REAL_SERVERS, new_id, order_lives, redeliveries


@pytest.fixture
async def payments(payments_env: dict[str, str]) -> AsyncIterator[FastAPI]:
    app = create_app(load_settings(PaymentsSettings))
    async with serve_app(app):
        yield app


@REAL_SERVERS
@given(data=st.data())
async def test_order_replica_ends_as_the_order_whatever_the_delivery(
    payments: FastAPI, data: st.DataObject
) -> None:
    life = data.draw(order_lives(new_id()))
    listeners = {listener.event_type: listener for listener in subscriptions(payments.state.wiring)}
    extra = data.draw(redeliveries(life.events))
    await deliver_until_settled(
        listeners, [*life.events, *extra], lambda n: data.draw(st.integers(0, n - 1))
    )
    created = life.events[0]
    assert isinstance(created, OrderCreated)
    replica = await OrderReplica.get(ObjectId(life.order_id))
    assert replica is not None
    assert replica.status == (life.ending or OrderStatus.CREATED)
    assert replica.version == life.final_version
    assert (replica.user_id, replica.price_cents) == (
        created.user_id,
        to_cents(created.ticket.price),
    )
