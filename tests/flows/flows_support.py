"""The two services under test, as one platform."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

# The durable consumers of tickets and orders (tixcommon.bus.listener.durable_name): the flows
# wait for them to be idle before they look at what the events did.
TICKETS_AND_ORDERS_DURABLES = (
    "tickets-order-created",
    "tickets-order-cancelled",
    "tickets-order-completed",
    "orders-ticket-created",
    "orders-ticket-updated",
    "orders-expiration-complete",
    "orders-payment-created",
)


@dataclass
class Platform:
    tickets: httpx.AsyncClient
    orders: httpx.AsyncClient


@dataclass
class Saga:
    """Every backend service (and the expiration worker), each with its own database."""

    tickets: httpx.AsyncClient
    orders: httpx.AsyncClient
    payments: httpx.AsyncClient
    expiration: httpx.AsyncClient
    webhook_secret: str
