"""What the waiting room's tests share: the test's clock, a solver of ALTCHA's challenges as
its widget solves them, and the shapes of the fixtures (conftest.py)."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from altcha.v1 import Challenge, solve_challenge

from tixtest import SignedInUser

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


def solved(challenge: dict[str, Any]) -> str:
    """What ALTCHA's widget submits once it has solved the challenge."""
    solution = solve_challenge(
        Challenge(
            challenge["algorithm"],
            challenge["challenge"],
            challenge["maxnumber"],
            challenge["salt"],
            challenge["signature"],
        )
    )
    assert solution is not None
    payload = {**challenge, "number": solution.number}
    payload.pop("maxnumber")
    return base64.b64encode(json.dumps(payload).encode()).decode()


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
    version: int = 0


ListSale = Callable[..., Awaitable[Sale]]


SetAvailable = Callable[[Sale, int], Awaitable[None]]
