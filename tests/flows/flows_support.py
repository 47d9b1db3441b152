"""The two services under test, as one platform."""

from __future__ import annotations

from dataclasses import dataclass

import httpx


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
