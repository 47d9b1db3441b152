"""`tix status` reads each process's metrics: the key figures of every one, and the mail queue
of those that send mail (orders' passes, auth's reset links)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_client.metrics import MetricWrapperBase

from tixcommon.mail.metrics import MAIL_FAILURES, MAIL_OLDEST_AGE, MAIL_QUEUED, MAIL_SENT
from tixdev.cli import main


def family(metric: MetricWrapperBase) -> str:
    """The name the relay's metric is exposed under, so these are the relay's own."""
    (described,) = metric.describe()
    return str(described.name)


def relaying() -> CollectorRegistry:
    """A process's metrics while its relay has sent 7 mails and 4 wait, the oldest 12.5 s."""
    registry = CollectorRegistry()
    sent = Counter(family(MAIL_SENT), "sent", ["kind"], registry=registry)
    sent.labels("order-complete").inc(5)
    sent.labels("password-reset").inc(2)
    failures = Counter(family(MAIL_FAILURES), "failures", ["kind"], registry=registry)
    failures.labels("order-complete").inc(3)
    Gauge(family(MAIL_QUEUED), "queued", registry=registry).set(4)
    Gauge(family(MAIL_OLDEST_AGE), "oldest", registry=registry).set(12.5)
    Gauge("tixvibe_outbox_entries", "outbox", registry=registry).set(2)
    return registry


def mailless() -> CollectorRegistry:
    registry = CollectorRegistry()
    Gauge("tixvibe_outbox_entries", "outbox", registry=registry).set(1)
    return registry


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A running stack as `tix status` finds it: stack.json naming each process's metrics,
    served over HTTP as the processes serve them."""
    servers = [
        (name, start_http_server(0, addr="127.0.0.1", registry=registry)[0])
        for name, registry in (("orders", relaying()), ("tickets", mailless()))
    ]
    state = {
        "gateway": "http://127.0.0.1:1",
        "services": {},
        "metrics": {
            name: f"http://127.0.0.1:{server.server_port}/metrics" for name, server in servers
        },
    }
    (tmp_path / "stack.json").write_text(json.dumps(state))
    monkeypatch.setenv("TIX_DATA_DIR", str(tmp_path))
    try:
        yield
    finally:
        for _, server in servers:
            server.shutdown()
            server.server_close()


@pytest.mark.usefixtures("stack")
def test_status_shows_the_mail_queue_of_a_process_that_sends_mail(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["status"]) == 0

    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert lines["orders"].endswith(
        "outbox 2 (oldest 0.0 s), 0 dead letters, "
        "mail 4 queued (oldest 12.5 s), 7 sent, 3 failed attempts"
    )
    assert lines["tickets"].endswith("outbox 1 (oldest 0.0 s), 0 dead letters")
