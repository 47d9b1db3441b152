"""The two services under test, as one platform."""

from __future__ import annotations

from dataclasses import dataclass

import httpx


@dataclass
class Platform:
    tickets: httpx.AsyncClient
    orders: httpx.AsyncClient
