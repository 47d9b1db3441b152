"""The fleet's metrics as an operator's Prometheus sees them: a real Prometheus scrapes every
process of `tix dev` while a purchase runs, the counters move as they should, ids never become
series, no router hands `/metrics` to the public, and every process's metrics pass
`promtool check metrics`."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from tixdev.servers import free_port
from tixtest.stack import RunningStack, buy_one_and_let_one_lapse, eventually

PROCESSES = (
    "auth", "tickets", "orders", "expiration", "exp-worker", "payments", "client", "waitingroom",
)  # fmt: skip


def binary(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is not installed: run scripts/ensure-prometheus"
    return found


@pytest.fixture(scope="module")
def prometheus(fleet: RunningStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prometheus scraping every process of the fleet each second, one job per process."""
    home = tmp_path_factory.mktemp("prometheus")
    jobs = [
        {"job_name": name, "static_configs": [{"targets": [httpx.URL(url).netloc.decode()]}]}
        for name, url in fleet.state["metrics"].items()
    ]
    config = {"global": {"scrape_interval": "1s", "scrape_timeout": "1s"}, "scrape_configs": jobs}
    (home / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    with (home / "prometheus.log").open("wb") as log, subprocess.Popen(
        [
            binary("prometheus"), f"--config.file={home / 'prometheus.yml'}",
            f"--storage.tsdb.path={home / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL, stderr=log,
    ) as server:  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            eventually(lambda: value(url, "count(up == 1)") == len(PROCESSES), 30, "all scraped")
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)


def results(prometheus: str, promql: str) -> list[dict[str, Any]]:
    try:
        response = httpx.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=5)
    except httpx.HTTPError:
        return []
    if response.status_code != 200:
        return []  # still starting: it answers 503 in plain text until it is ready
    found: list[dict[str, Any]] = response.json()["data"]["result"]
    return found


def value(prometheus: str, promql: str) -> float:
    """The sum of an instant query's values (0 when it matches no series yet)."""
    return sum(float(result["value"][1]) for result in results(prometheus, promql))


# What one purchase and one lapse move, and by at least how much.
MOVED = {
    'tixvibe_orders_created_total{job="orders"}': 2,
    'tixvibe_orders_completed_total{job="orders"}': 1,
    'tixvibe_orders_cancelled_total{job="orders",reason="expiry"}': 1,
    'tixvibe_payments_total{job="payments",outcome="succeeded"}': 1,
    'tixvibe_signin_failures_total{job="auth"}': 1,
    'tixvibe_events_published_total{job="tickets",subject="ticket.created"}': 2,
    'tixvibe_events_published_total{job="orders",subject="order.cancelled"}': 1,
    'tixvibe_events_handled_total{job="orders",outcome="applied"}': 2,
    'tixvibe_events_handled_total{job="tickets",outcome="applied"}': 2,
    'tixvibe_expiration_lateness_seconds_count{job="exp-worker"}': 1,
    'http_server_request_duration_seconds_count{job="orders",http_request_method="POST",'
    'http_route="/api/orders",http_response_status_code="201"}': 2,
    'http_server_request_duration_seconds_count{job="tickets",http_request_method="GET",'
    'http_route="/api/tickets/{ticket_id}"}': 2,
    'http_server_request_duration_seconds_count{job="client",http_route="/"}': 1,
}


def test_a_purchase_moves_the_counters_it_should(fleet: RunningStack, prometheus: str) -> None:
    before = {promql: value(prometheus, promql) for promql in MOVED}
    seller = fleet.sign_up()
    listing = []
    for title in ("Observed opera", "Observed ballet"):
        reply = httpx.post(
            f"{fleet.gateway}/api/tickets", json={"title": title, "price": 30}, headers=seller
        )
        assert reply.status_code == 201
        listing.append(reply.json())
    wrong = httpx.post(
        f"{fleet.gateway}/api/users/signin",
        json={"email": "nobody@example.com", "password": "not the password"},
    )
    assert wrong.status_code == 400
    assert httpx.get(f"{fleet.gateway}/").status_code == 200

    buy_one_and_let_one_lapse(fleet.gateway, listing)

    for promql, least in MOVED.items():
        eventually(lambda: value(prometheus, promql) >= before[promql] + least, 15, promql)  # noqa: B023
    # Lag and the outbox are sampled: every consumer and every outbox has its series.
    consumers = results(prometheus, "tixvibe_consumer_pending_messages")
    assert {result["metric"]["job"] for result in consumers} >= {"tickets", "orders", "payments"}
    outboxes = results(prometheus, "tixvibe_outbox_oldest_entry_age_seconds")
    assert {result["metric"]["job"] for result in outboxes} >= {"tickets", "orders", "payments"}


def test_routes_are_templates_so_ids_never_become_series(
    fleet: RunningStack, prometheus: str
) -> None:
    for _ in range(3):
        missing = httpx.get(f"{fleet.gateway}/api/tickets/{'a' * 24}")
        assert missing.status_code == 404
    eventually(
        lambda: value(prometheus, 'http_server_request_duration_seconds_count{job="tickets",'
                      'http_route="/api/tickets/{ticket_id}",http_response_status_code="404"}')
        >= 3,
        15, "the 404s counted under their route",
    )  # fmt: skip
    routes = results(
        prometheus, "count by (http_route) (http_server_request_duration_seconds_count)"
    )
    assert routes
    for result in routes:
        assert not re.search(r"[0-9a-f]{24}", result["metric"]["http_route"]), result


def test_no_router_hands_metrics_to_the_public(fleet: RunningStack) -> None:
    for path in ("/metrics", "/api/tickets/metrics", "/api/users/metrics"):
        answer = httpx.get(f"{fleet.gateway}{path}")
        assert "# HELP" not in answer.text, path
    for name, url in fleet.state["metrics"].items():
        assert httpx.URL(url).port not in {
            httpx.URL(service).port for service in fleet.state["services"].values()
        }, name


def test_every_processs_metrics_pass_promtool(fleet: RunningStack, prometheus: str) -> None:
    assert set(fleet.state["metrics"]) == set(PROCESSES)
    for name, url in fleet.state["metrics"].items():
        exposition = httpx.get(url).text
        assert "http_server_request_duration_seconds" in exposition or name == "exp-worker"
        checked = subprocess.run(
            [binary("promtool"), "check", "metrics"],
            input=exposition, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert checked.returncode == 0, f"{name}: {checked.stdout}{checked.stderr}"
        assert not checked.stdout.strip(), f"{name}: {checked.stdout}"
