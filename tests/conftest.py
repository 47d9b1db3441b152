"""The whole platform as `make dev` runs it, for the suites that call it as its users do: the
hostile-input ones and the API's integrators."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tixtest.stack import RunningStack, running_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    data = tmp_path_factory.mktemp("platform") / "data"
    with running_stack(data) as running:
        yield running


@pytest.fixture(scope="session")
def signed_in(stack: RunningStack) -> dict[str, str]:
    return stack.sign_up()
