from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from browser_support import CHROMIUM_ARGS, chromium_path
from client_support import ADMISSION_SECONDS, RESERVATION_SECONDS, Visitor
from playwright.async_api import Browser, async_playwright

from tixtest.stack import RunningStack, running_stack

# The waiting room, fast enough to watch in a test: a proof of work of a few hundred hashes,
# places asked for every second, a turn short enough to lapse. Every visitor of these tests
# comes from 127.0.0.1, so the joins per address are not what is tested here.
WAITING_ROOM = {
    "TIX_WAITINGROOM__WAITING_ROOM_DIFFICULTY": "1000",
    "TIX_WAITINGROOM__WAITING_ROOM_ADMISSION_SECONDS": str(ADMISSION_SECONDS),
    "TIX_WAITINGROOM__WAITING_ROOM_REFRESH_MIN_SECONDS": "1",
    "TIX_WAITINGROOM__WAITING_ROOM_JOINS_PER_ADDRESS": "1000",
}

# Every visitor asks for its reset links from 127.0.0.1 too: the limit per address is not what
# these tests are about (the one per email is, and stays as auth sets it).
PASSWORD_RESET = {"TIX_AUTH__PASSWORD_RESET_MAX_PER_ADDRESS": "1000"}


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The whole platform as `make dev` runs it, shared by the client's tests."""
    data = tmp_path_factory.mktemp("platform") / "data"
    with running_stack(
        data, EXPIRATION_WINDOW_SECONDS=str(RESERVATION_SECONDS), **WAITING_ROOM, **PASSWORD_RESET
    ) as stack:
        yield stack


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


@pytest.fixture
def visitors(platform: RunningStack) -> Iterator[Any]:
    made: list[Visitor] = []

    def make() -> Visitor:
        visitor = Visitor(platform.gateway)
        made.append(visitor)
        return visitor

    yield make
    for visitor in made:
        visitor.close()
