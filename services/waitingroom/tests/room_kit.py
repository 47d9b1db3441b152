"""What the waiting room's tests share: the test's clock, a solver of ALTCHA's challenges as
its widget solves them, and the shapes of the fixtures (conftest.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from tixtest import SignedInUser
from tixtest.altcha import solved

DIFFICULTY = 500
ADMIT_PER_MINUTE = 6
ADMISSION_SECONDS = 600


class Clock:
    """The room's time, moved by the test: a sale starts, an admission lapses, when it says."""

    def __init__(self) -> None:
        self.moment = datetime.now(UTC).timestamp()

    def __call__(self) -> float:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += seconds

    @property
    def now(self) -> datetime:
        return datetime.fromtimestamp(self.moment, UTC)


async def solve_for(client: httpx.AsyncClient, user: SignedInUser) -> str:
    answer = await client.get("/api/waitingroom/challenge", headers=user.headers)
    assert answer.status_code == 200, answer.text
    return solved(answer.json())


Join = Callable[..., Awaitable[httpx.Response]]


@dataclass
class Sale:
    """A ticket with a sale scheduled, as the room learns of it: by its events."""

    id: str
    on_sale_at: datetime
    quantity: int
    per_buyer_limit: int | None = None
    version: int = 0


ListSale = Callable[..., Awaitable[Sale]]


SetAvailable = Callable[[Sale, int], Awaitable[None]]
