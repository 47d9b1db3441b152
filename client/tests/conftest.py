from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from client_support import RESERVATION_SECONDS, Visitor

from tixtest.stack import RunningStack, running_stack


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The whole platform as `make dev` runs it, shared by the client's tests."""
    data = tmp_path_factory.mktemp("platform") / "data"
    with running_stack(data, EXPIRATION_WINDOW_SECONDS=str(RESERVATION_SECONDS)) as stack:
        yield stack


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
