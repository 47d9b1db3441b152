from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from bson import ObjectId

from orders.app import create_app
from orders.settings import OrdersSettings
from tixcommon.admission import ADMISSION_HEADER, AdmissionCodec
from tixcommon.bus import Publisher
from tixcommon.events import PaymentCreated, TicketCreated
from tixcommon.settings import load_settings
from tixtest import SignedInUser, serve_app, wait_until


@pytest.fixture
async def client(
    service_env: dict[str, str], mail_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("EXPIRATION_WINDOW_SECONDS", "60")
    async with serve_app(create_app(load_settings(OrdersSettings))) as http:
        yield http


@pytest.fixture
def buyer(make_user: Callable[..., SignedInUser]) -> SignedInUser:
    return make_user()


@pytest.fixture
def list_ticket(
    client: httpx.AsyncClient, publish: Publisher
) -> Callable[..., Awaitable[dict[str, Any]]]:
    """A ticket listed in the tickets service, as orders learns of it: by its event."""

    async def listed(
        title: str = "Concert",
        price: float = 20,
        starts_at: datetime | None = None,
        quantity: int = 1,
        on_sale_at: datetime | None = None,
        per_buyer_limit: int | None = None,
        seller_id: str = "e" * 24,
        venue: str | None = None,
    ) -> dict[str, Any]:
        event = TicketCreated(
            id=str(ObjectId()),
            version=0,
            title=title,
            price=price,
            user_id=seller_id,
            starts_at=starts_at,
            venue=venue,
            quantity=quantity,
            available=quantity,
            on_sale_at=on_sale_at,
            per_buyer_limit=per_buyer_limit,
        )
        await publish.publish(event)
        await wait_until(lambda: _orderable(client, event.id), message="ticket replicated")
        return event.model_dump(by_alias=True)

    return listed


@pytest.fixture
def paid(client: httpx.AsyncClient, publish: Publisher) -> Callable[..., Awaitable[dict[str, Any]]]:
    """An order of `quantity` seats placed by `buyer` and paid for (payments' event): the
    order as its buyer then finds it, complete."""

    async def order(
        buyer: SignedInUser, ticket: dict[str, Any], quantity: int = 1
    ) -> dict[str, Any]:
        placed = await client.post(
            "/api/orders",
            json={"ticketId": ticket["id"], "quantity": quantity},
            headers=buyer.headers,
        )
        assert placed.status_code == 201, placed.text
        order_id = placed.json()["id"]
        await publish.publish(
            PaymentCreated(id=str(ObjectId()), order_id=order_id, stripe_id="pi_passes")
        )

        async def complete() -> dict[str, Any] | None:
            found = await client.get(f"/api/orders/{order_id}", headers=buyer.headers)
            body: dict[str, Any] = found.json()
            return body if body["status"] == "complete" else None

        completed: dict[str, Any] = await wait_until(complete, message="order complete")
        return completed

    return order


@pytest.fixture
def admit(jwt_key: str) -> Callable[..., dict[str, str]]:
    """The header of a waiting room's admission, as the room issues one: of `user_id` to
    `ticket_id`, for ten minutes unless `until` (Unix seconds) says otherwise."""
    codec = AdmissionCodec(jwt_key)

    def header(user_id: str, ticket_id: str, until: float | None = None) -> dict[str, str]:
        expires = int(time.time() + 600 if until is None else until)
        return {ADMISSION_HEADER: codec.issue(user_id, ticket_id, expires)}

    return header


async def _orderable(client: httpx.AsyncClient, ticket_id: str) -> bool:
    from orders.models import TicketReplica

    return await TicketReplica.get(ObjectId(ticket_id)) is not None
