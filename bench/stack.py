"""The services under measurement, run as in production: separate uvicorn processes on real
servers started on free ports."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from tixcommon.auth import SessionCodec
from tixdev.stack import new_pass_signing_key
from tixtest import MongoServer, NatsServer, RedisServer, SmtpServer, StripeServer, free_port


class RunningService:
    def __init__(self, name: str, port: int, process: subprocess.Popen[bytes]) -> None:
        self.name = name
        self.port = port
        self.process = process


def _wait_ready(
    port: int, process: subprocess.Popen[bytes], path: str = "/readyz", timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}{path}").status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"process on {port} not ready (see its log)")


@dataclass
class Stack:
    ports: dict[str, int]
    codec: SessionCodec
    mongo_url: str
    nats_url: str
    pids: dict[str, int]
    database_pid: int  # the MongoDB-wire server: its CPU is part of a request's cost
    redis_url: str
    redis_pid: int  # the waiting room's store: its CPU is part of a join's and a poll's cost


def resident_mib(pid: int) -> float:
    """A process's resident memory (VmRSS), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


@contextlib.contextmanager
def running_floor(stack: Stack, log_dir: Path) -> Iterator[RunningService]:
    """The floors' bare app (bench/floor_app.py), on the same servers as the stack."""
    port = free_port()
    env = {**os.environ, "FLOOR_MONGO_URI": stack.mongo_url, "FLOOR_NATS_URL": stack.nats_url}
    log = (log_dir / "floor.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own bench app
        [sys.executable, "-m", "uvicorn", "bench.floor_app:app", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log", "--log-level", "warning"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait_ready(port, process, "/bare")
        yield RunningService("floor", port, process)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@contextlib.contextmanager
def running_services(
    *names: str, log_dir: Path, env: Mapping[str, str] | None = None
) -> Iterator[Stack]:
    """Start the real servers and the named services (each with its own database)."""
    key, pass_key = secrets.token_urlsafe(48), new_pass_signing_key()
    with (
        NatsServer() as nats,
        MongoServer(in_memory=True) as mongo,
        RedisServer() as redis,
        StripeServer() as stripe,
        # Orders mails the passes of what the door part sells: as under `tix dev`.
        SmtpServer(log_dir / "mail") as smtp,
    ):
        started: list[RunningService] = []
        try:
            for name in names:
                port = free_port()
                service_env = {
                    **os.environ,
                    "ENVIRONMENT": "dev",
                    "JWT_KEY": key,
                    "PASS_SIGNING_KEY": pass_key,
                    "SMTP_HOST": smtp.host,
                    "SMTP_PORT": str(smtp.port),
                    "SMTP_STARTTLS": "false",
                    "MAIL_FROM": "TixVibe <tickets@bench.test>",
                    "PUBLIC_URL": "http://bench.test",
                    "MONGO_URI": mongo.url,
                    "NATS_URL": nats.url,
                    "HOST": "127.0.0.1",
                    "PORT": str(port),
                    "LOG_LEVEL": "WARNING",
                    "REDIS_URL": redis.url,
                    "STRIPE_KEY": f"sk_test_{secrets.token_hex(8)}",
                    "STRIPE_WEBHOOK_SECRET": f"whsec_{secrets.token_hex(8)}",
                    "STRIPE_API_BASE": stripe.url,
                    **(env or {}),
                }
                log = (log_dir / f"{name}.log").open("wb")
                process = subprocess.Popen(  # noqa: S603 - our own service
                    [sys.executable, "-m", name],
                    env=service_env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
                started.append(RunningService(name, port, process))
            for service in started:
                if service.name != "expiration.worker":  # no HTTP; expiration's /readyz tells
                    _wait_ready(service.port, service.process)
            ports = {s.name: s.port for s in started}
            pids = {s.name: s.process.pid for s in started}
            assert mongo.process is not None
            assert redis.process is not None
            yield Stack(
                ports, SessionCodec(key, 3600), mongo.url, nats.url, pids, mongo.process.pid,
                redis.url, redis.process.pid,
            )  # fmt: skip
        finally:
            for service in started:
                service.process.terminate()
            for service in started:
                service.process.wait(timeout=30)
