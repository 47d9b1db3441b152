"""The purchase saga across every backend service, through real JetStream, Redis and a
Stripe-compatible server: reserve, then pay in time or lose the reservation."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import stripe
from flows_support import TICKETS_AND_ORDERS_DURABLES, Saga

from tixcommon.bus import EventBus, Publisher
from tixtest import (
    SignedInUser,
    StripeServer,
    consumers_idle,
    stream_messages,
    wait_for_event,
    wait_until,
)


async def list_and_order(saga: Saga, seller: SignedInUser, buyer: SignedInUser) -> tuple[Any, Any]:
    listed = await saga.tickets.post(
        "/api/tickets", json={"title": "Show", "price": 25}, headers=seller.headers
    )
    ticket = listed.json()

    async def placed() -> Any:
        response = await saga.orders.post(
            "/api/orders", json={"ticketId": ticket["id"]}, headers=buyer.headers
        )
        return response.json() if response.status_code == 201 else None

    return ticket, await wait_until(placed, message="order placed")


async def pay(saga: Saga, buyer: SignedInUser, order: Any) -> Any:
    async def attempt() -> Any:
        response = await saga.payments.post(
            "/api/payments",
            json={"orderId": order["id"], "token": "pm_card_visa"},
            headers=buyer.headers,
        )
        return response if response.status_code != 404 else None  # replica not there yet

    return await wait_until(attempt, message="order known to payments")


async def order_status(saga: Saga, buyer: SignedInUser, order: Any) -> str:
    response = await saga.orders.get(f"/api/orders/{order['id']}", headers=buyer.headers)
    return str(response.json()["status"])


async def ticket_state(saga: Saga, ticket: Any) -> Any:
    return (await saga.tickets.get(f"/api/tickets/{ticket['id']}")).json()


async def test_paid_order_completes_and_the_ticket_stays_sold(
    saga: Saga, make_user: Callable[..., SignedInUser], bus: EventBus
) -> None:
    seller, buyer = make_user(), make_user()
    ticket, order = await list_and_order(saga, seller, buyer)

    paid = await pay(saga, buyer, order)

    assert paid.status_code == 201
    await wait_until(lambda: _status_is(saga, buyer, order, "complete"), message="order complete")
    # The reservation window passes: a complete order does not expire.
    await wait_for_event(bus, "expiration.complete", lambda e: e["orderId"] == order["id"])
    await wait_until(
        lambda: consumers_idle(bus, "orders-expiration-complete"), message="expiry handled"
    )
    assert await order_status(saga, buyer, order) == "complete"
    assert (await ticket_state(saga, ticket))["orderId"] == order["id"]
    assert (await saga.tickets.get("/api/tickets")).json() == []

    async def sold() -> bool:
        return bool((await ticket_state(saga, ticket))["status"] == "sold")

    await wait_until(sold, message="the seller sees the ticket sold")


async def test_unpaid_order_is_cancelled_at_expiry_and_the_ticket_is_for_sale_again(
    saga: Saga, make_user: Callable[..., SignedInUser], bus: EventBus
) -> None:
    seller, buyer = make_user(), make_user()
    ticket, order = await list_and_order(saga, seller, buyer)

    await wait_until(
        lambda: _status_is(saga, buyer, order, "cancelled"), timeout=15, message="expired"
    )

    async def for_sale() -> bool:
        return [t["id"] for t in (await saga.tickets.get("/api/tickets")).json()] == [ticket["id"]]

    await wait_until(for_sale, message="ticket for sale again")
    late = await pay(saga, buyer, order)
    assert late.json() == {"errors": [{"message": "Cannot pay for a cancelled order"}]}


async def test_cancelled_order_cannot_be_paid(
    saga: Saga,
    make_user: Callable[..., SignedInUser],
    stripe_server: StripeServer,
    bus: EventBus,
) -> None:
    seller, buyer = make_user(), make_user()
    _, order = await list_and_order(saga, seller, buyer)
    await saga.orders.delete(f"/api/orders/{order['id']}", headers=buyer.headers)
    await wait_until(
        lambda: _heard(bus, "payments-order-cancelled"), message="payments heard the cancel"
    )

    response = await pay(saga, buyer, order)

    assert response.json() == {"errors": [{"message": "Cannot pay for a cancelled order"}]}
    assert intents_for(stripe_server, order["id"]) == []


async def test_payment_landing_after_expiry_is_refunded(
    saga: Saga,
    make_user: Callable[..., SignedInUser],
    stripe_server: StripeServer,
    bus: EventBus,
) -> None:
    seller, buyer = make_user(), make_user()
    _, order = await list_and_order(saga, seller, buyer)
    await wait_until(
        lambda: _status_is(saga, buyer, order, "cancelled"), timeout=15, message="expired"
    )
    await wait_until(
        lambda: _heard(bus, "payments-order-cancelled"), message="payments heard the cancel"
    )
    # The bank confirmed the card only now; Stripe tells us through its webhook.
    api = stripe_api(stripe_server)
    intent = api.v1.payment_intents.create(
        params={
            "amount": 2500,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "metadata": {"orderId": order["id"]},
        }
    )
    intent = api.v1.payment_intents.confirm(intent.id)
    payload = orjson.dumps(
        {"id": "evt_late", "type": "payment_intent.succeeded", "data": {"object": intent.to_dict()}}
    )
    now = int(time.time())
    signature = hmac.new(saga.webhook_secret.encode(), f"{now}.".encode() + payload, hashlib.sha256)

    response = await saga.payments.post(
        "/api/payments/webhook",
        content=payload,
        headers={"Stripe-Signature": f"t={now},v1={signature.hexdigest()}"},
    )

    assert response.status_code == 200
    refunds = [r for r in api.v1.refunds.list().data if r.payment_intent == intent.id]
    assert len(refunds) == 1
    assert await stream_messages(bus, "payment.created") == []
    assert await order_status(saga, buyer, order) == "cancelled"


async def _status_is(saga: Saga, buyer: SignedInUser, order: Any, status: str) -> bool:
    return await order_status(saga, buyer, order) == status


def stripe_api(stripe_server: StripeServer) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_x", base_addresses={"api": stripe_server.url})


def intents_for(stripe_server: StripeServer, order_id: str) -> list[str]:
    """The PaymentIntents Stripe holds for an order: what was charged."""
    return [
        intent.id
        for intent in stripe_api(stripe_server).v1.payment_intents.list(params={"limit": 100}).data
        if intent.metadata.to_dict().get("orderId") == order_id
    ]


async def _heard(bus: EventBus, durable: str) -> bool:
    """The consumer has received something and handled everything it received: the event
    published after an HTTP call (through the outbox) has arrived and been applied."""
    info = await bus.js.consumer_info(bus.stream_name, durable)
    return bool(info.delivered.stream_seq) and await consumers_idle(bus, durable)


async def test_paying_while_cancelling_never_keeps_the_money(
    saga: Saga,
    make_user: Callable[..., SignedInUser],
    stripe_server: StripeServer,
    bus: EventBus,
) -> None:
    seller, buyer = make_user(), make_user()
    _, order = await list_and_order(saga, seller, buyer)
    await wait_until(
        lambda: _heard(bus, "payments-order-created"), message="payments knows the order"
    )

    cancel, paid = await asyncio.gather(
        saga.orders.delete(f"/api/orders/{order['id']}", headers=buyer.headers),
        pay(saga, buyer, order),
    )

    api = stripe_api(stripe_server)
    intents = intents_for(stripe_server, order["id"])
    if cancel.status_code == 400:
        # The payment won the race outright: the order completed before the cancel was read,
        # so the cancel is refused and the one charge is rightly kept.
        assert cancel.json() == {"errors": [{"message": "Cannot cancel a completed order"}]}
        assert paid.status_code == 201
        assert await order_status(saga, buyer, order) == "complete"
        assert len(intents) == 1
        return

    assert cancel.status_code == 204

    async def refunded_or_never_charged() -> bool:
        refunds = {r.payment_intent for r in api.v1.refunds.list(params={"limit": 100}).data}
        return all(intent in refunds for intent in intents)

    await wait_until(refunded_or_never_charged, message="every charge refunded")
    assert paid.status_code in (201, 400)
    assert await order_status(saga, buyer, order) == "cancelled"


async def test_replaying_every_saga_event_changes_nothing(
    saga: Saga,
    make_user: Callable[..., SignedInUser],
    stripe_server: StripeServer,
    bus: EventBus,
) -> None:
    seller, buyer, other = make_user(), make_user(), make_user()
    ticket, order = await list_and_order(saga, seller, buyer)
    assert (await pay(saga, buyer, order)).status_code == 201
    await wait_until(lambda: _status_is(saga, buyer, order, "complete"), message="complete")
    _, lapsed = await list_and_order(saga, seller, other)
    await wait_until(lambda: _status_is(saga, other, lapsed, "cancelled"), timeout=15, message="x")
    await wait_until(lambda: consumers_idle(bus, *ALL_DURABLES), message="settled")
    before = (
        await ticket_state(saga, ticket),
        await order_status(saga, buyer, order),
        await order_status(saga, other, lapsed),
        (await bus.js.stream_info(bus.stream_name)).state.messages,
    )
    api = stripe_api(stripe_server)
    charges_before = len(api.v1.payment_intents.list(params={"limit": 100}).data)

    history = []
    for subject in SAGA_SUBJECTS:
        history += await stream_messages(bus, subject)
    for message in sorted(history, key=lambda m: -m.metadata.sequence.stream):
        await Publisher(bus).publish_raw(
            bus.contract_subject(message.subject), message.data, event_id=uuid.uuid4().hex
        )
    await wait_until(lambda: consumers_idle(bus, *ALL_DURABLES), timeout=30, message="replayed")

    after = (
        await ticket_state(saga, ticket),
        await order_status(saga, buyer, order),
        await order_status(saga, other, lapsed),
        (await bus.js.stream_info(bus.stream_name)).state.messages - len(history),
    )
    assert after == before
    assert len(api.v1.payment_intents.list(params={"limit": 100}).data) == charges_before


SAGA_SUBJECTS = (
    "ticket.created",
    "ticket.updated",
    "order.created",
    "order.cancelled",
    "order.completed",
    "expiration.complete",
    "payment.created",
)
ALL_DURABLES = (
    *TICKETS_AND_ORDERS_DURABLES,
    "payments-order-created",
    "payments-order-cancelled",
    "payments-order-completed",
    "expiration-order-created",
)
