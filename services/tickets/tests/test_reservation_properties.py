"""Property: whatever order, duplication and redelivery a ticket's order events arrive in, the
ticket ends held by exactly the order that holds it in orders (none once all are cancelled),
and shows the status a buyer should see."""

from __future__ import annotations

import httpx
from bson import ObjectId
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from tickets.listeners import subscriptions
from tickets.models import OrderReplica, Ticket
from tixcommon.events import OrderStatus
from tixtest import SignedInUser, deliver_until_settled
from tixtest.histories import REAL_SERVERS, redeliveries, ticket_order_histories

PUBLIC_STATUS = {None: "reserved", OrderStatus.COMPLETE: "sold", OrderStatus.CANCELLED: "available"}


@REAL_SERVERS
@given(data=st.data())
async def test_a_ticket_ends_held_by_its_live_order_whatever_the_delivery(
    tickets: tuple[FastAPI, httpx.AsyncClient], seller: SignedInUser, data: st.DataObject
) -> None:
    app, http = tickets
    listed = await http.post(
        "/api/tickets", json={"title": "Show", "price": 10}, headers=seller.headers
    )
    ticket_id = listed.json()["id"]
    lives = data.draw(ticket_order_histories(ticket_id))
    events = [event for life in lives for event in life.events]
    listeners = {listener.event_type: listener for listener in subscriptions(app.state.wiring)}
    extra = data.draw(redeliveries(events))
    await deliver_until_settled(
        listeners, [*events, *extra], lambda n: data.draw(st.integers(0, n - 1))
    )

    last = lives[-1]
    ticket = await Ticket.get(ObjectId(ticket_id))
    assert ticket is not None
    assert ticket.order_id == (None if last.ending is OrderStatus.CANCELLED else last.order_id)
    shown = (await http.get(f"/api/tickets/{ticket_id}")).json()
    assert shown["status"] == PUBLIC_STATUS[last.ending]
    for life in lives:
        replica = await OrderReplica.get(ObjectId(life.order_id))
        assert replica is not None
        assert replica.status == (life.ending or OrderStatus.CREATED)
        assert replica.version == life.final_version
