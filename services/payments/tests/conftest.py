from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import stripe
from bson import ObjectId

from payments.app import create_app
from payments.models import OrderReplica
from payments.settings import PaymentsSettings
from tixcommon.bus import Publisher
from tixcommon.events import OrderCreated, OrderStatus, TicketPrice
from tixcommon.settings import load_settings
from tixtest import SignedInUser, StripeServer, serve_app, wait_until

KnownOrder = Callable[..., Awaitable[dict[str, Any]]]
PayFor = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
def payments_env(
    service_env: dict[str, str], stripe_server: StripeServer, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    env = {
        "STRIPE_KEY": f"sk_test_{secrets.token_hex(12)}",
        "STRIPE_WEBHOOK_SECRET": f"whsec_{secrets.token_hex(16)}",
        "STRIPE_API_BASE": stripe_server.url,
        # Abandoned claims are settled within a test's patience.
        "PAYMENT_SETTLE_SECONDS": "0.2",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return {**service_env, **env}


@pytest.fixture
async def client(payments_env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_app(create_app(load_settings(PaymentsSettings))) as http:
        yield http


@pytest.fixture
def stripe_api(stripe_server: StripeServer) -> stripe.StripeClient:
    return stripe.StripeClient(
        "sk_test_inspector", base_addresses={"api": stripe_server.url}, max_network_retries=0
    )


@pytest.fixture
def buyer(make_user: Callable[..., SignedInUser]) -> SignedInUser:
    return make_user()


@pytest.fixture
def known_order(publish: Publisher) -> KnownOrder:
    """An order placed in the orders service, as payments learns of it: by its event (a
    payments app must be running to hear it)."""

    async def order(buyer: SignedInUser, price: float = 20, quantity: int = 1) -> dict[str, Any]:
        event = OrderCreated(
            id=str(ObjectId()),
            version=0,
            status=OrderStatus.CREATED,
            user_id=buyer.id,
            expires_at=datetime.now(UTC) + timedelta(minutes=15),
            ticket=TicketPrice(id=str(ObjectId()), price=price),
            quantity=quantity,
        )
        await publish.publish(event)

        async def replicated() -> bool:
            return await OrderReplica.get(ObjectId(event.id)) is not None

        await wait_until(replicated, message="order replicated")
        return event.model_dump(mode="json", by_alias=True)

    return order


@pytest.fixture
def pay_for(client: httpx.AsyncClient) -> PayFor:
    """`POST /api/payments` for an order, as its buyer, by the test card unless told: the
    answer."""

    async def pay(
        buyer: SignedInUser, order: dict[str, Any], token: str = "pm_card_visa"
    ) -> httpx.Response:
        return await client.post(
            "/api/payments", json={"orderId": order["id"], "token": token}, headers=buyer.headers
        )

    return pay
