"""A cluster-wide restart: every process starts before its database, NATS and Redis.

None of them may exit (in Kubernetes an exit is a CrashLoopBackOff whose back-off grows to
minutes): each stays up, answers /healthz, says on /readyz that it is not ready and why, refuses
requests with the contract's 503, and connects by itself as its dependencies appear.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tixdev.services import ServiceSpec, platform_services
from tixdev.stack import new_pass_signing_key
from tixtest import MongoServer, NatsServer, RedisServer, StripeServer, free_port_block
from tixtest.stack import eventually, sign_up

# The web client needs none of the three; everything else needs MongoDB.
SPECS = [spec for spec in platform_services(free_port_block(7)) if spec.name != "client"]
HTTP = {spec.name: f"http://127.0.0.1:{spec.port}" for spec in SPECS if spec.serves_http}
# Every service is an event service (each follows session revocations, auth publishes them).
NEEDS_NATS = ("auth", "tickets", "orders", "expiration", "payments", "waitingroom")


class Servers:
    def __init__(self, root: Path) -> None:
        # Ports chosen now, servers started later: the processes are given addresses where
        # nothing answers yet.
        self.mongo = MongoServer(data_dir=root / "mongo")
        self.nats = NatsServer(data_dir=root / "nats")
        self.redis = RedisServer(data_dir=root / "redis")
        self.stripe = StripeServer(data_dir=root / "stripe")

    def close(self) -> None:
        for server in (self.mongo, self.nats, self.redis, self.stripe):
            server.close()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    found = Servers(tmp_path)
    try:
        yield found
    finally:
        found.close()


@pytest.fixture
def processes(servers: Servers, tmp_path: Path) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    # Stripe is no start-up dependency (payments only calls it to charge), so it is up already.
    servers.stripe.start()
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "JWT_KEY": secrets.token_urlsafe(48),
        "PASS_SIGNING_KEY": new_pass_signing_key(),
        # No mail is sent here; orders requires its relay's address all the same.
        "SMTP_HOST": "127.0.0.1",
        "MAIL_FROM": "TixVibe <tickets@tixvibe.test>",
        "PUBLIC_URL": "http://tixvibe.test",
        "STRIPE_KEY": f"sk_test_{secrets.token_hex(12)}",
        "STRIPE_WEBHOOK_SECRET": f"whsec_{secrets.token_hex(16)}",
        "STRIPE_API_BASE": servers.stripe.url,
        "MONGO_URI": servers.mongo.url,
        "NATS_URL": servers.nats.url,
        "REDIS_URL": servers.redis.url,
        "MONGO_TIMEOUT_MS": "1000",
        "WORKER_HEALTH_SECONDS": "0.5",
        "HOST": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }
    running: dict[str, subprocess.Popen[bytes]] = {}
    logs = tmp_path / "logs"
    logs.mkdir()
    try:
        for spec in SPECS:
            running[spec.name] = start(spec, env, logs)
        yield running
    finally:
        for process in running.values():
            process.terminate()
        for process in running.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def start(spec: ServiceSpec, env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    with (logs / f"{spec.name}.log").open("wb") as log:
        return subprocess.Popen(
            spec.command,
            env={**env, "PORT": str(spec.port)},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def status(name: str, path: str) -> int | None:
    try:
        return httpx.get(f"{HTTP[name]}{path}", timeout=3).status_code
    except httpx.TransportError:
        return None


def ready(*names: str) -> bool:
    return all(status(name, "/readyz") == 200 for name in names)


def still_running(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    exited = {name: p.returncode for name, p in processes.items() if p.poll() is not None}
    assert not exited, f"exited instead of waiting: {exited}"


def test_processes_started_before_their_dependencies_wait_and_then_connect(
    servers: Servers, processes: dict[str, subprocess.Popen[bytes]]
) -> None:
    # Alive, not ready, and saying why.
    eventually(lambda: all(status(name, "/healthz") == 200 for name in HTTP), 60, "healthz")
    for name in HTTP:
        response = httpx.get(f"{HTTP[name]}/readyz", timeout=3)
        assert response.status_code == 503, (name, response.text)
        assert response.json()["errors"][0]["message"].startswith("starting"), response.text
    refused = httpx.post(f"{HTTP['auth']}/api/users/signup", json={}, timeout=5)
    assert refused.status_code == 503
    assert refused.json() == {"errors": [{"message": "Service is starting, try again shortly"}]}

    servers.mongo.start()
    assert not any(ready(name) for name in NEEDS_NATS)
    still_running(processes)

    servers.nats.start()
    eventually(lambda: ready("auth", "tickets", "orders", "payments"), 60, "ready once NATS is up")
    assert not ready("expiration")  # Redis and the worker's heartbeat are still missing
    still_running(processes)

    servers.redis.start()
    eventually(lambda: ready(*HTTP), 60, "every service ready once Redis is up")
    still_running(processes)

    # And they work: a seller signs up and lists a ticket.
    listed = httpx.post(
        f"{HTTP['tickets']}/api/tickets",
        json={"title": "Started in the wrong order", "price": 12.5},
        headers=sign_up(HTTP["auth"]),
        timeout=10,
    )
    assert listed.status_code == 201, listed.text


def test_a_process_still_waiting_stops_at_once_on_sigterm(
    processes: dict[str, subprocess.Popen[bytes]],
) -> None:
    # Nothing is up: every service is still opening its dependencies when the pod is deleted.
    eventually(lambda: all(status(name, "/healthz") == 200 for name in HTTP), 60, "healthz")
    for name in HTTP:
        processes[name].terminate()
    for name in HTTP:
        # uvicorn stops gracefully, then re-raises the signal it caught: -SIGTERM, not a hang.
        assert processes[name].wait(timeout=15) == -signal.SIGTERM, name
