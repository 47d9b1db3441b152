from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import stripe
from bson import ObjectId

from payments.app import create_app
from payments.models import OrderReplica, Payment
from payments.settings import PaymentsSettings
from tixcommon.bus import EventBus, Publisher
from tixcommon.events import OrderCancelled, OrderCompleted, TicketRef
from tixcommon.settings import ConfigurationError, load_settings
from tixtest import (
    SignedInUser,
    free_port,
    metric,
    serve_app,
    stream_messages,
    wait_for_event,
    wait_until,
)

PAYMENTS = "/api/payments"
KnownOrder = Callable[..., Awaitable[dict[str, Any]]]
PayFor = Callable[..., Awaitable[httpx.Response]]


def intents_for(stripe_api: stripe.StripeClient, order_id: str) -> list[Any]:
    return [
        intent
        for intent in stripe_api.v1.payment_intents.list(params={"limit": 100}).data
        if intent.metadata.to_dict().get("orderId") == order_id
    ]


async def test_paying_charges_the_order_price_and_announces_the_payment(
    pay_for: PayFor,
    buyer: SignedInUser,
    known_order: KnownOrder,
    bus: EventBus,
    stripe_api: stripe.StripeClient,
) -> None:
    order = await known_order(buyer, price=20.5)

    response = await pay_for(buyer, order)

    assert response.status_code == 201
    payment_id = response.json()["id"]
    assert set(response.json()) == {"id"}
    event = await wait_for_event(bus, "payment.created", lambda e: e["orderId"] == order["id"])
    assert event["id"] == payment_id
    assert event["stripeId"].startswith("pi_")
    [intent] = intents_for(stripe_api, order["id"])
    assert (intent.id, intent.amount, intent.currency, intent.status) == (
        event["stripeId"],
        2050,
        "usd",
        "succeeded",
    )


async def test_an_order_of_several_seats_is_charged_every_seat(
    pay_for: PayFor,
    buyer: SignedInUser,
    known_order: KnownOrder,
    stripe_api: stripe.StripeClient,
) -> None:
    order = await known_order(buyer, price=20.35, quantity=3)

    assert (await pay_for(buyer, order)).status_code == 201

    [intent] = intents_for(stripe_api, order["id"])
    assert (intent.amount, intent.status) == (6105, "succeeded")  # 3 x 20.35, in cents


async def test_pay_checks_sign_in_first(client: httpx.AsyncClient) -> None:
    for response in (
        await client.post(PAYMENTS, json={}),
        await client.post(PAYMENTS, content=b"{", headers={"Content-Type": "application/json"}),
    ):
        assert (response.status_code, response.json()) == (
            401,
            {"errors": [{"message": "Not authorized"}]},
        )


async def test_pay_validates_its_body(client: httpx.AsyncClient, buyer: SignedInUser) -> None:
    missing = await client.post(PAYMENTS, json={}, headers=buyer.headers)
    bad = await client.post(PAYMENTS, json={"orderId": "x", "token": " "}, headers=buyer.headers)

    assert missing.status_code == 400
    assert [e["field"] for e in missing.json()["errors"]] == ["orderId", "token"]
    assert [e["field"] for e in bad.json()["errors"]] == ["orderId", "token"]


async def test_pay_for_unknown_order_is_404_and_someone_elses_is_401(
    pay_for: PayFor,
    buyer: SignedInUser,
    known_order: KnownOrder,
    make_user: Callable[..., SignedInUser],
) -> None:
    unknown = await pay_for(buyer, {"id": str(ObjectId())})
    theirs = await pay_for(buyer, await known_order(make_user()))

    assert (unknown.status_code, unknown.json()) == (404, {"errors": [{"message": "Not Found"}]})
    assert (theirs.status_code, theirs.json()) == (401, {"errors": [{"message": "Not authorized"}]})


async def test_cancelled_order_cannot_be_paid(
    pay_for: PayFor,
    buyer: SignedInUser,
    known_order: KnownOrder,
    publish: Publisher,
    stripe_api: stripe.StripeClient,
) -> None:
    order = await known_order(buyer)
    await publish.publish(
        OrderCancelled(id=order["id"], version=1, ticket=TicketRef(id=order["ticket"]["id"]))
    )
    await wait_until(lambda: _status(order, "cancelled"), message="cancel replicated")

    response = await pay_for(buyer, order)

    assert (response.status_code, response.json()) == (
        400,
        {"errors": [{"message": "Cannot pay for a cancelled order"}]},
    )
    assert intents_for(stripe_api, order["id"]) == []


async def test_an_order_is_paid_only_once(
    pay_for: PayFor, buyer: SignedInUser, known_order: KnownOrder
) -> None:
    order = await known_order(buyer)
    first = await pay_for(buyer, order)

    second = await pay_for(buyer, order)

    assert first.status_code == 201
    assert (second.status_code, second.json()) == (
        400,
        {"errors": [{"message": "Order is already paid"}]},
    )


async def test_a_payment_retried_with_its_idempotency_key_gets_its_first_answer(
    client: httpx.AsyncClient,
    buyer: SignedInUser,
    known_order: KnownOrder,
    stripe_api: stripe.StripeClient,
) -> None:
    """A phone that lost the answer retries: it hears the payment it made, not "already paid"."""
    order = await known_order(buyer)
    body = {"orderId": order["id"], "token": "pm_card_visa"}
    headers = {**buyer.headers, "Idempotency-Key": "pay-once"}

    first = await client.post(PAYMENTS, json=body, headers=headers)
    retry = await client.post(PAYMENTS, json=body, headers=headers)

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert len(intents_for(stripe_api, order["id"])) == 1


async def test_completed_order_is_already_paid(
    pay_for: PayFor, buyer: SignedInUser, known_order: KnownOrder, publish: Publisher
) -> None:
    order = await known_order(buyer)
    await publish.publish(
        OrderCompleted(id=order["id"], version=1, ticket=TicketRef(id=order["ticket"]["id"]))
    )
    await wait_until(lambda: _status(order, "complete"), message="completion replicated")

    response = await pay_for(buyer, order)

    assert response.json() == {"errors": [{"message": "Order is already paid"}]}


async def test_fifty_concurrent_payments_make_one_charge(
    pay_for: PayFor,
    buyer: SignedInUser,
    known_order: KnownOrder,
    stripe_api: stripe.StripeClient,
    bus: EventBus,
) -> None:
    order = await known_order(buyer)

    responses = await asyncio.gather(*(pay_for(buyer, order) for _ in range(50)))

    statuses = [response.status_code for response in responses]
    assert statuses.count(201) == 1
    assert statuses.count(400) == 49
    assert len(intents_for(stripe_api, order["id"])) == 1
    assert await Payment.find(Payment.order_id == order["id"]).count() == 1
    await wait_for_event(bus, "payment.created", lambda e: e["orderId"] == order["id"])
    assert len(await stream_messages(bus, "payment.created")) == 1


async def test_declined_card_is_400_with_stripes_message_and_stores_nothing(
    pay_for: PayFor, buyer: SignedInUser, known_order: KnownOrder, bus: EventBus
) -> None:
    order = await known_order(buyer)
    declines = metric("tixvibe_payments_total", outcome="declined")

    declined = await pay_for(buyer, order, token="pm_card_chargeCustomerFail")

    assert (declined.status_code, declined.json()) == (
        400,
        {"errors": [{"message": "Your card was declined."}]},
    )
    assert await Payment.find(Payment.order_id == order["id"]).count() == 0
    assert await stream_messages(bus, "payment.created") == []
    assert metric("tixvibe_payments_total", outcome="declined") == declines + 1
    retried = await pay_for(buyer, order)  # another card works
    assert retried.status_code == 201


async def test_unknown_payment_method_is_400_with_stripes_message(
    pay_for: PayFor, buyer: SignedInUser, known_order: KnownOrder
) -> None:
    order = await known_order(buyer)

    response = await pay_for(buyer, order, token="pm_does_not_exist")

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"]
    assert await Payment.find(Payment.order_id == order["id"]).count() == 0


async def test_unreachable_stripe_is_503_and_stores_nothing(
    payments_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    buyer: SignedInUser,
    known_order: KnownOrder,
    bus: EventBus,
) -> None:
    monkeypatch.setenv("STRIPE_API_BASE", f"http://127.0.0.1:{free_port()}")
    async with serve_app(create_app(load_settings(PaymentsSettings))) as offline:
        order = await known_order(buyer)

        response = await offline.post(
            PAYMENTS, json={"orderId": order["id"], "token": "pm_card_visa"}, headers=buyer.headers
        )

        assert response.status_code == 503
        assert response.json() == {
            "errors": [{"message": "Payment provider unavailable, try again shortly"}]
        }
        assert await Payment.find(Payment.order_id == order["id"]).count() == 0
        assert await stream_messages(bus, "payment.created") == []


async def _status(order: dict[str, Any], status: str) -> bool:
    replica = await OrderReplica.get(ObjectId(order["id"]))
    return replica is not None and replica.status.value == status


async def test_claim_abandoned_by_a_crashed_request_is_taken_over_after_the_timeout(
    pay_for: PayFor, buyer: SignedInUser, known_order: KnownOrder
) -> None:
    from datetime import UTC, datetime, timedelta

    order = await known_order(buyer)
    # A request claimed the order, then died before charging (or before recording).
    recent = Payment(order_id=order["id"], status="pending", amount_cents=2000)
    await recent.insert()

    blocked = await pay_for(buyer, order)
    await Payment.get_pymongo_collection().update_one(
        {"_id": recent.id}, {"$set": {"created_at": datetime.now(UTC) - timedelta(hours=1)}}
    )
    retried = await pay_for(buyer, order)

    assert blocked.json() == {
        "errors": [{"message": "A payment for this order is already in progress"}]
    }
    assert retried.status_code == 201
    [payment] = await Payment.find(Payment.order_id == order["id"]).to_list()
    assert (payment.status.value, str(payment.id)) == ("succeeded", retried.json()["id"])


def test_a_claim_timeout_shorter_than_a_request_is_refused_at_start(
    payments_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Claims would be settled as abandoned under requests still waiting for Stripe.
    monkeypatch.setenv("STRIPE_TIMEOUT_SECONDS", "30")
    monkeypatch.setenv("PAYMENT_CLAIM_TIMEOUT_SECONDS", "45")

    with pytest.raises(ConfigurationError, match="PAYMENT_CLAIM_TIMEOUT_SECONDS"):
        load_settings(PaymentsSettings)
