from __future__ import annotations

from collections.abc import Iterator

import pytest

from tixtest.stack import RunningStack, running_stack


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """`tix dev`, as an operator runs it, with reservations short enough to watch one lapse,
    consumer lag sampled often and spans written at once."""
    data = tmp_path_factory.mktemp("observed") / "data"
    with running_stack(
        data,
        EXPIRATION_WINDOW_SECONDS="3",
        METRICS_SAMPLE_SECONDS="0.5",
        OTEL_BSP_SCHEDULE_DELAY="100",
    ) as stack:
        yield stack
