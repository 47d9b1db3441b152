"""A burst of sign-ins cannot take auth down: 200 clients at once, each body as large as auth
takes, against auth run as it runs in production (its own process). Memory stays under half the
container's limit, auth stays ready, and every answer is a success, a 429 or a 503 with
Retry-After: none is a timeout."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import yaml

from auth.settings import AuthSettings
from tixtest import MongoServer, NatsServer, SmtpServer, free_port
from tixtest.stack import eventually

CLIENTS = 200
SIGN_INS_PER_CLIENT = 3
# Longer than any answer may take: a sign-in is refused at once unless its expected wait is
# within auth's bound (20 s), and 200 clients at once are at most 200 hashes ahead.
CLIENT_TIMEOUT_SECONDS = 30.0
# What a sign-in waiting for its hash holds is mostly its body: each is as large as auth takes.
BODY_BYTES = AuthSettings.model_fields["max_body_bytes"].default
POD_PATCH = Path(__file__).resolve().parents[2] / "infra/k8s/base/patches/service-pod.yaml"


def memory_limit_bytes() -> int:
    """The services' container memory limit, as the manifests set it."""
    limit = yaml.safe_load(POD_PATCH.read_text())["spec"]["template"]["spec"]["containers"][0][
        "resources"
    ]["limits"]["memory"]
    match = re.fullmatch(r"(\d+)Mi", limit)
    assert match, limit
    return int(match[1]) * 1024 * 1024


def resident_bytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    assert match
    return int(match[1]) * 1024


@pytest.fixture
def auth(
    mongo_server: MongoServer, nats_server: NatsServer, smtp_server: SmtpServer, tmp_path: Path
) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {
        **os.environ,
        "NATS_URL": nats_server.url,
        "EVENTS_NAMESPACE": f"flood{secrets.token_hex(4)}",
        "SMTP_HOST": smtp_server.host,
        "SMTP_PORT": str(smtp_server.port),
        "SMTP_STARTTLS": "false",
        "MAIL_FROM": "TixVibe <tickets@tixvibe.test>",
        "PUBLIC_URL": "http://tixvibe.test",
        "ENVIRONMENT": "test",
        "JWT_KEY": secrets.token_urlsafe(48),
        "MONGO_URI": mongo_server.url,
        "MONGO_DB": f"flood_{secrets.token_hex(4)}",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    with (tmp_path / "auth.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "auth"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: ready(base), 60, "auth ready")
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


async def test_a_sign_in_flood_is_answered_within_bounds(auth: tuple[str, int]) -> None:
    base, pid = auth
    credentials = {"email": f"flood-{secrets.token_hex(4)}@example.com", "password": "x" * 12}
    # Idle connections dropped well before uvicorn's keep-alive timeout (5 s, httpx's default
    # too): reusing one the server is closing at that instant is a ReadError of the client's
    # making, which the longer floods (auth's relays running beside them) hit.
    limits = httpx.Limits(
        max_connections=CLIENTS + 2, max_keepalive_connections=CLIENTS + 2, keepalive_expiry=1.0
    )
    async with httpx.AsyncClient(base_url=base, limits=limits) as http:
        signed_up = await http.post("/api/users/signup", json=credentials, timeout=10)
        assert signed_up.status_code == 201, signed_up.text
        unpadded = len(orjson.dumps({**credentials, "pad": ""}))
        body = orjson.dumps({**credentials, "pad": "x" * (BODY_BYTES - unpadded)})
        peak = resident_bytes(pid)
        readiness: list[int] = []
        flooding = True

        async def watch() -> None:
            nonlocal peak
            while flooding:
                peak = max(peak, resident_bytes(pid))
                readiness.append((await http.get("/readyz", timeout=5)).status_code)
                await asyncio.sleep(0.05)  # a sampling interval, not a wait for a condition

        async def client() -> list[httpx.Response]:
            answers = []
            for _ in range(SIGN_INS_PER_CLIENT):
                answers.append(
                    await http.post(
                        "/api/users/signin",
                        content=body,
                        headers={"Content-Type": "application/json"},
                        timeout=CLIENT_TIMEOUT_SECONDS,
                    )
                )
            return answers

        watcher = asyncio.create_task(watch())
        try:
            results = await asyncio.gather(*(client() for _ in range(CLIENTS)))
        finally:
            flooding = False
            await watcher

    answers = [answer for answers in results for answer in answers]
    statuses = Counter(answer.status_code for answer in answers)
    assert set(statuses) <= {200, 429, 503}, statuses
    assert statuses[200] > 0, statuses
    assert all(a.headers.get("retry-after") for a in answers if a.status_code == 503)
    assert readiness, "readiness was never sampled"
    assert set(readiness) == {200}, Counter(readiness)
    assert peak < memory_limit_bytes() / 2, f"peak RSS {peak / 2**20:.0f} MiB"
