"""The pytest plugin every TixVibe package uses (registered through the `pytest11` entry point).

Session-scoped real servers on free ports; per-test isolation by database name and event
namespace (so tests never hear each other); a signed-in-user factory; event waiting helpers.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from tixcommon.auth import SESSION_COOKIE, SessionCodec
from tixcommon.bus import EventBus, Publisher
from tixdev.mail_server import SmtpServer
from tixdev.servers import MongoServer, NatsServer, RedisServer, StripeServer
from tixdev.stack import new_pass_signing_key
from tixtest.events import wait_until


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--no-skips",
        action="store_true",
        help="fail the run if any test is skipped: a missing tool is installed, not skipped",
    )


_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if session.config.getoption("--no-skips") and _skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if config.getoption("--no-skips") and _skipped:
        terminalreporter.write_line(
            f"FAILED: {len(_skipped)} test(s) skipped under --no-skips: {', '.join(_skipped)}",
            red=True,
        )


# -- servers ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    with NatsServer() as server:
        yield server  # type: ignore[misc]


@pytest.fixture(scope="session")
def mongo_server() -> Iterator[MongoServer]:
    with MongoServer(in_memory=True) as server:
        yield server  # type: ignore[misc]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer(append_only=False) as server:
        yield server  # type: ignore[misc]


@pytest.fixture(scope="session")
def stripe_server() -> Iterator[StripeServer]:
    with StripeServer() as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[SmtpServer]:
    """The test's own SMTP server (a thread, started in milliseconds): only this test's mail
    is in its `messages()`, kept under the test's tmp_path."""
    with SmtpServer(tmp_path / "mail") as server:
        yield server


@pytest.fixture
def mail_env(monkeypatch: pytest.MonkeyPatch, smtp_server: SmtpServer) -> dict[str, str]:
    """The mail settings of a service under test: its SMTP server and retries short enough
    for tests to watch (tixcommon.mail.MailSettings)."""
    env = {
        "SMTP_HOST": smtp_server.host,
        "SMTP_PORT": str(smtp_server.port),
        "SMTP_STARTTLS": "false",
        "MAIL_FROM": "TixVibe <tickets@tixvibe.test>",
        "PUBLIC_URL": "http://tixvibe.test",
        "MAIL_POLL_SECONDS": "0.2",
        "MAIL_RETRY_BASE_SECONDS": "0.05",
        "MAIL_RETRY_MAX_SECONDS": "0.5",
        "SMTP_TIMEOUT_SECONDS": "5",
        "MAIL_LEASE_SECONDS": "30",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture(scope="session")
def jwt_key() -> str:
    return secrets.token_urlsafe(48)


@pytest.fixture(scope="session")
def pass_signing_key() -> str:
    """An Ed25519 seed, as orders takes its pass signing key: 32 random bytes, base64url."""
    return new_pass_signing_key()


@pytest.fixture(scope="session")
def session_codec(jwt_key: str) -> SessionCodec:
    return SessionCodec(jwt_key, lifetime_seconds=3600)


# -- per-test isolation -------------------------------------------------------------------------


@pytest.fixture
def test_id() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture
async def mongo(mongo_server: MongoServer) -> AsyncIterator[AsyncMongoClient[Any]]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_server.url, tz_aware=True)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def database_name(test_id: str, mongo: AsyncMongoClient[Any]) -> AsyncIterator[str]:
    name = f"t_{test_id}"
    yield name
    await mongo.drop_database(name)


@pytest.fixture
async def bus(nats_server: NatsServer, test_id: str) -> AsyncIterator[EventBus]:
    """A connection to the test's own namespace of the stream (deleted afterwards)."""
    event_bus = await EventBus.connect(
        nats_server.url, client_name=f"test-{test_id}", namespace=f"t{test_id}"
    )
    await event_bus.ensure_stream()
    try:
        yield event_bus
    finally:
        await event_bus.js.delete_stream(event_bus.stream_name)
        await event_bus.close()


@pytest.fixture
def publish(bus: EventBus) -> Publisher:
    """Publishes into the test's namespace, as another service would."""
    return Publisher(bus)


@pytest.fixture
def service_env(
    monkeypatch: pytest.MonkeyPatch,
    jwt_key: str,
    pass_signing_key: str,
    mongo_server: MongoServer,
    nats_server: NatsServer,
    database_name: str,
    bus: EventBus,
) -> dict[str, str]:
    """Environment for a service under test: the real servers, this test's database and event
    namespace, and retry delays short enough for tests to watch redeliveries happen."""
    env = {
        "ENVIRONMENT": "test",
        "JWT_KEY": jwt_key,
        "PASS_SIGNING_KEY": pass_signing_key,
        "MONGO_URI": mongo_server.url,
        "MONGO_DB": database_name,
        "NATS_URL": nats_server.url,
        "EVENTS_NAMESPACE": bus.namespace,
        "LISTENER_RETRY_BASE_SECONDS": "0.02",
        "LISTENER_RETRY_MAX_SECONDS": "0.2",
        "LISTENER_MAX_DELIVER": "5",
        "OUTBOX_POLL_SECONDS": "0.2",
        "LOG_LEVEL": "WARNING",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


async def dependencies_opened(app: Any) -> None:
    """A service's lifespan opens its dependencies in the background (tixcommon.app): wait
    until it has. Other ASGI apps have nothing to wait for."""
    state = getattr(app, "state", None)
    if state is not None and hasattr(state, "wiring"):
        await wait_until(
            lambda: state.wiring is not None, timeout=60, message="dependencies opened"
        )


@asynccontextmanager
async def serve_app(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan and talk to it over HTTP semantics, in process."""
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        await dependencies_opened(app)
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


# -- users --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedInUser:
    id: str
    email: str
    token: str

    @property
    def cookies(self) -> dict[str, str]:
        return {SESSION_COOKIE: self.token}

    @property
    def headers(self) -> dict[str, str]:
        return {"Cookie": f"{SESSION_COOKIE}={self.token}"}


@pytest.fixture
def make_user(session_codec: SessionCodec) -> Callable[..., SignedInUser]:
    """A signed-in user, as another service sees one: a valid session for a fresh id."""

    def factory(email: str | None = None) -> SignedInUser:
        user_id = uuid.uuid4().hex[:24]
        address = email or f"user-{user_id[:8]}@example.com"
        return SignedInUser(user_id, address, session_codec.issue(user_id, address))

    return factory
