from __future__ import annotations

from collections.abc import Iterator

import pytest

from tixtest.otlp import OtlpReceiver, otlp_receiver
from tixtest.stack import RunningStack, running_stack


@pytest.fixture(scope="session")
def collector() -> Iterator[tuple[OtlpReceiver, str]]:
    """Where the fleet exports its spans over OTLP, as it would to a collector."""
    with otlp_receiver() as received:
        yield received


@pytest.fixture(scope="session")
def fleet(
    tmp_path_factory: pytest.TempPathFactory, collector: tuple[OtlpReceiver, str]
) -> Iterator[RunningStack]:
    """`tix dev`, as an operator runs it, with reservations short enough to watch one lapse,
    consumer lag sampled often, spans written at once, and exported over OTLP as well."""
    data = tmp_path_factory.mktemp("observed") / "data"
    _, endpoint = collector
    with running_stack(
        data,
        EXPIRATION_WINDOW_SECONDS="3",
        METRICS_SAMPLE_SECONDS="0.5",
        OTEL_BSP_SCHEDULE_DELAY="100",
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
    ) as stack:
        yield stack
