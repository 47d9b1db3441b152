"""Mail is queued with the change that causes it and sent once, whatever fails in between."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from pymongo import AsyncMongoClient

from tixcommon.mail import MAIL_COLLECTION, MailQueue, MailRelay, MailSettings, message_id
from tixcommon.settings import ConfigurationError, EventServiceSettings, load_settings
from tixtest import MongoServer, SmtpServer, free_port, metric, self_signed_tls, wait_until

FROM = "TixVibe <tickets@tixvibe.test>"
PDF = b"%PDF-1.4 a pass\n"


def mail_settings(smtp: SmtpServer, **overrides: Any) -> MailSettings:
    return relay_settings(smtp.host, smtp.port, **overrides)


def relay_settings(host: str, port: int, **overrides: Any) -> MailSettings:
    values: dict[str, Any] = {
        "smtp_host": host,
        "smtp_port": port,
        "smtp_starttls": False,
        "mail_from": FROM,
        "public_url": "http://tixvibe.test/",
        "mail_poll_seconds": 0.1,
        "mail_retry_base_seconds": 0.05,
        "mail_retry_max_seconds": 0.4,
        "smtp_timeout_seconds": 5,
        "mail_lease_seconds": 30,
        **overrides,
    }
    return MailSettings(**values)


async def order_complete(to: str, params: Mapping[str, Any]) -> EmailMessage:
    """A renderer as orders registers one: text, HTML and the PDF, made when sent."""
    message = EmailMessage()
    message["Subject"] = f"Your tickets for order {params['orderId']}"
    link = f"http://tixvibe.test/orders/{params['orderId']}"
    message.set_content(f"Your order is complete: {link}")
    message.add_alternative(f'<p>Your order is <a href="{link}">complete</a>.</p>', subtype="html")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="passes.pdf")
    return message


RENDERERS = {"order-complete": order_complete}


@pytest.fixture
async def queue(mongo: AsyncMongoClient[Any], database_name: str) -> MailQueue:
    mail = MailQueue(mongo[database_name][MAIL_COLLECTION])
    await mail.ensure_indexes()
    return mail


@pytest.fixture
async def relay(queue: MailQueue, smtp_server: SmtpServer) -> AsyncIterator[MailRelay]:
    running = MailRelay(queue, RENDERERS, mail_settings(smtp_server))
    running.start()
    try:
        yield running
    finally:
        await running.stop()


async def queue_order_mail(
    mongo: AsyncMongoClient[Any], queue: MailQueue, order_id: str, to: str = "buyer@example.com"
) -> bool:
    async with mongo.start_session() as session, await session.start_transaction():
        return await queue.queue_mail(
            session,
            key=f"order-complete:{order_id}",
            kind="order-complete",
            to=to,
            params={"orderId": order_id},
        )


def subjects(smtp: SmtpServer) -> list[str]:
    return [str(message["Subject"]) for message in smtp.messages()]


async def nothing_queued(queue: MailQueue) -> bool:
    return bool(await queue.collection.count_documents({"status": "queued"}) == 0)


async def marked_sent(queue: MailQueue, order_id: str) -> bool:
    return bool((await stored(queue, order_id))["status"] == "sent")


async def stored(queue: MailQueue, order_id: str) -> dict[str, Any]:
    mail: dict[str, Any] | None = await queue.collection.find_one(
        {"key": f"order-complete:{order_id}"}
    )
    assert mail is not None
    return mail


async def test_a_mail_queued_twice_with_one_key_is_sent_once(
    mongo: AsyncMongoClient[Any], queue: MailQueue, relay: MailRelay, smtp_server: SmtpServer
) -> None:
    assert await queue_order_mail(mongo, queue, "o1") is True
    assert await queue_order_mail(mongo, queue, "o1") is False  # a redelivered event
    relay.wake()

    await wait_until(lambda: smtp_server.messages(), message="mail delivered")
    assert await queue_order_mail(mongo, queue, "o1") is False  # even once it was sent
    await queue_order_mail(mongo, queue, "o2")
    relay.wake()
    await wait_until(lambda: len(smtp_server.messages()) == 2, message="second mail delivered")
    assert subjects(smtp_server) == ["Your tickets for order o1", "Your tickets for order o2"]
    assert await queue.collection.count_documents({"key": "order-complete:o1"}) == 1


async def test_a_mail_queued_in_a_transaction_that_aborts_is_never_sent(
    mongo: AsyncMongoClient[Any], queue: MailQueue, relay: MailRelay, smtp_server: SmtpServer
) -> None:
    async def refused_payment() -> None:
        async with mongo.start_session() as session, await session.start_transaction():
            await queue.queue_mail(
                session,
                key="order-complete:aborted",
                kind="order-complete",
                to="buyer@example.com",
                params={"orderId": "aborted"},
            )
            raise RuntimeError("payment refused")

    with pytest.raises(RuntimeError, match="payment refused"):
        await refused_payment()
    await queue_order_mail(mongo, queue, "after")  # goes out after any earlier one would
    relay.wake()

    await wait_until(lambda: smtp_server.messages(), message="mail delivered")
    assert subjects(smtp_server) == ["Your tickets for order after"]
    assert await queue.collection.count_documents({"key": "order-complete:aborted"}) == 0


async def test_the_relay_sends_the_message_as_rendered_with_its_envelope(
    mongo: AsyncMongoClient[Any], queue: MailQueue, relay: MailRelay, smtp_server: SmtpServer
) -> None:
    await queue_order_mail(mongo, queue, "o7", to="Ann.Buyer@example.com")
    relay.wake()

    [message] = await wait_until(lambda: smtp_server.messages(), message="mail delivered")
    assert message["From"] == FROM
    assert message["To"] == "Ann.Buyer@example.com"
    assert message["Message-ID"] == message_id("order-complete:o7", "tixvibe.test")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"] is not None
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert "http://tixvibe.test/orders/o7" in text.get_content()
    assert 'href="http://tixvibe.test/orders/o7"' in html.get_content()
    [attachment] = message.iter_attachments()
    assert attachment.get_filename() == "passes.pdf"
    assert attachment.get_content() == PDF
    await wait_until(lambda: marked_sent(queue, "o7"), message="marked sent")
    mail = await stored(queue, "o7")
    assert mail["sentAt"] is not None
    assert mail["attempts"] == 1


async def test_mail_queued_while_the_smtp_server_is_down_is_delivered_once_it_is_back(
    mongo: AsyncMongoClient[Any], queue: MailQueue, relay: MailRelay, smtp_server: SmtpServer
) -> None:
    failures = metric("tixvibe_mail_failures_total", kind="order-complete")
    smtp_server.stop()
    await queue_order_mail(mongo, queue, "o3")
    relay.wake()

    async def retried() -> bool:
        return bool((await stored(queue, "o3"))["attempts"] >= 3)

    await wait_until(retried, message="three attempts")
    mail = await stored(queue, "o3")
    assert mail["status"] == "queued"
    assert "SMTPConnectError" in mail["lastError"]
    assert metric("tixvibe_mail_failures_total", kind="order-complete") >= failures + 2
    smtp_server.start()

    [message] = await wait_until(lambda: smtp_server.messages(), message="mail delivered")
    assert message["Message-ID"] == message_id("order-complete:o3", "tixvibe.test")
    await wait_until(lambda: marked_sent(queue, "o3"), message="marked sent")
    mail = await stored(queue, "o3")
    assert mail["lastError"] is None
    await queue_order_mail(mongo, queue, "marker")
    relay.wake()
    await wait_until(lambda: len(smtp_server.messages()) == 2, message="the next mail")
    assert subjects(smtp_server).count("Your tickets for order o3") == 1


async def test_retries_back_off_doubling_to_the_cap_with_jitter(
    queue: MailQueue, smtp_server: SmtpServer
) -> None:
    relay = MailRelay(
        queue,
        RENDERERS,
        mail_settings(smtp_server, mail_retry_base_seconds=5, mail_retry_max_seconds=900),
    )
    for attempts, ceiling in [(1, 5), (2, 10), (3, 20), (8, 640), (9, 900), (500, 900)]:
        delays = [relay.backoff(attempts) for _ in range(200)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert max(delays) - min(delays) > ceiling / 10  # jittered, not one value


async def test_two_relays_on_one_queue_send_each_mail_once(
    mongo: AsyncMongoClient[Any], queue: MailQueue, smtp_server: SmtpServer
) -> None:
    orders = [f"many{n}" for n in range(40)]
    for order_id in orders:
        await queue_order_mail(mongo, queue, order_id)
    relays = [MailRelay(queue, RENDERERS, mail_settings(smtp_server)) for _ in range(2)]
    for relay in relays:
        relay.start()
    try:
        await wait_until(
            lambda: len(smtp_server.messages()) >= len(orders), timeout=60, message="all sent"
        )
        await wait_until(lambda: nothing_queued(queue), message="all marked sent")
    finally:
        for relay in relays:
            await relay.stop()
    sent = sorted(subjects(smtp_server))
    assert sent == sorted(f"Your tickets for order {order_id}" for order_id in orders)


async def test_a_renderer_that_raises_is_retried_and_the_relay_goes_on(
    mongo: AsyncMongoClient[Any], queue: MailQueue, smtp_server: SmtpServer
) -> None:
    calls: list[str] = []

    async def flaky(to: str, params: Mapping[str, Any]) -> EmailMessage:
        calls.append(params["orderId"])
        if params["orderId"] == "flaky" and calls.count("flaky") <= 2:
            raise LookupError("order flaky not in the replica yet")
        return await order_complete(to, params)

    relay = MailRelay(queue, {"order-complete": flaky}, mail_settings(smtp_server))
    relay.start()
    try:
        await queue_order_mail(mongo, queue, "flaky")
        await queue_order_mail(mongo, queue, "fine")
        relay.wake()
        await wait_until(lambda: len(smtp_server.messages()) == 2, message="both delivered")
    finally:
        await relay.stop()
    assert calls.count("flaky") == 3
    assert sorted(subjects(smtp_server)) == [
        "Your tickets for order fine",
        "Your tickets for order flaky",
    ]
    mail = await stored(queue, "flaky")
    assert mail["attempts"] == 3
    assert mail["status"] == "sent"


async def test_a_failure_is_recorded_on_the_mail(
    mongo: AsyncMongoClient[Any], queue: MailQueue, smtp_server: SmtpServer
) -> None:
    async def broken(to: str, params: Mapping[str, Any]) -> EmailMessage:
        raise LookupError("order broken not in the replica yet")

    relay = MailRelay(
        queue,
        {"order-complete": broken},
        mail_settings(smtp_server, mail_retry_base_seconds=60, mail_retry_max_seconds=60),
    )
    await queue_order_mail(mongo, queue, "broken")
    assert await relay.send_next() is True
    mail = await stored(queue, "broken")
    assert mail["lastError"] == "LookupError: order broken not in the replica yet"
    assert mail["status"] == "queued"
    assert await relay.send_next() is False  # not due before its back-off


async def test_a_relay_only_claims_the_kinds_it_renders(
    mongo: AsyncMongoClient[Any], queue: MailQueue, smtp_server: SmtpServer
) -> None:
    async with mongo.start_session() as session, await session.start_transaction():
        await queue.queue_mail(
            session, key="password-reset:r1", kind="password-reset", to="a@example.com", params={}
        )
    relay = MailRelay(queue, RENDERERS, mail_settings(smtp_server))
    assert await relay.send_next() is False
    mail = await queue.collection.find_one({"key": "password-reset:r1"})
    assert mail is not None
    assert mail["attempts"] == 0


_CRASHING_RELAY = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from pymongo import AsyncMongoClient
    from tixcommon.mail import MailQueue, MailRelay, MailSettings

    async def main(uri, database, port, claimed):
        async def hang(to, params):
            Path(claimed).write_text("claimed")
            await asyncio.Event().wait()  # killed here, between the claim and the mark

        client = AsyncMongoClient(uri, tz_aware=True)
        queue = MailQueue(client[database]["mail"])
        settings = MailSettings(
            smtp_host="127.0.0.1", smtp_port=int(port), smtp_starttls=False,
            mail_from="TixVibe <tickets@tixvibe.test>", public_url="http://tixvibe.test",
            smtp_timeout_seconds=2, mail_lease_seconds=4.5, mail_poll_seconds=0.1,
        )
        relay = MailRelay(queue, {"order-complete": hang}, settings)
        relay.start()
        await asyncio.Event().wait()

    asyncio.run(main(*sys.argv[1:]))
    """
)


async def test_a_relay_killed_mid_send_leaves_the_mail_to_another_after_its_lease(
    mongo: AsyncMongoClient[Any],
    mongo_server: MongoServer,
    queue: MailQueue,
    smtp_server: SmtpServer,
    database_name: str,
    tmp_path: Path,
) -> None:
    await queue_order_mail(mongo, queue, "crash")
    claimed = tmp_path / "claimed"
    crashing = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CRASHING_RELAY, mongo_server.url, database_name,
        str(smtp_server.port), str(claimed),
    )  # fmt: skip
    try:
        await wait_until(claimed.exists, timeout=30, message="mail claimed")
    finally:
        crashing.send_signal(signal.SIGKILL)
        await crashing.wait()
    relay = MailRelay(queue, RENDERERS, mail_settings(smtp_server))
    assert await relay.send_next() is False  # the dead relay's lease still holds it
    relay.start()
    try:
        await wait_until(lambda: smtp_server.messages(), timeout=20, message="mail delivered")
        await wait_until(lambda: nothing_queued(queue), message="marked sent")
    finally:
        await relay.stop()
    assert subjects(smtp_server) == ["Your tickets for order crash"]
    assert (await stored(queue, "crash"))["attempts"] == 2


class TakesTheDatabaseAway:
    """An SMTP server's handler (aiosmtpd, as the dev server's) that keeps what it receives
    and, as it accepts the first message, stops the database: the relay hears "250" with no
    database to write "sent" to."""

    def __init__(self, database: MongoServer) -> None:
        self.database = database
        self.accepted: list[bytes] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's name
        self.accepted.append(envelope.original_content or b"")
        if len(self.accepted) == 1:
            self.database.stop()  # blocks this server's loop until the database is gone
        return "250 Message accepted for delivery"


async def test_a_mail_sent_as_the_database_goes_away_is_marked_sent_once_it_is_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    database = MongoServer()  # on disk: what was queued survives the outage
    with database:
        mongo: AsyncMongoClient[Any] = AsyncMongoClient(
            database.url, tz_aware=True, serverSelectionTimeoutMS=300
        )
        smtp = TakesTheDatabaseAway(database)
        server = Controller(smtp, hostname="127.0.0.1", port=free_port())
        server.start()
        try:
            queue = MailQueue(mongo["mail_outage"][MAIL_COLLECTION])
            await queue.ensure_indexes()
            await queue_order_mail(mongo, queue, "outage")
            settings = relay_settings(
                "127.0.0.1", server.port, mail_lease_seconds=4, smtp_timeout_seconds=1.5
            )
            relay = MailRelay(queue, RENDERERS, settings)
            relay.start()

            def failed_marks() -> int:
                return sum(
                    r.getMessage() == "mail sent, not yet marked sent" for r in caplog.records
                )

            # Five failed writes take some 2 s: past half the lease, where the relay used to
            # give up on the write (and sent the mail again once the lease ran out).
            await wait_until(lambda: failed_marks() >= 5, timeout=30, message="marks failing")
            assert len(smtp.accepted) == 1
            database.start()
            await wait_until(lambda: marked_sent(queue, "outage"), timeout=30, message="marked")
            await relay.stop()

            mail = await stored(queue, "outage")
            assert (mail["status"], mail["attempts"], mail["lastError"]) == ("sent", 1, None)
            # Nothing is due again, even for another relay once the claim's lease is over.
            lease_over = mail["nextAttemptAt"]
            await wait_until(lambda: datetime.now(UTC) > lease_over, timeout=10, message="lease")
            assert await MailRelay(queue, RENDERERS, settings).send_next() is False
            assert len(smtp.accepted) == 1
        finally:
            server.stop()
            await mongo.close()


async def test_starttls_and_auth_with_the_relays_credentials(
    mongo: AsyncMongoClient[Any], queue: MailQueue, tmp_path: Path
) -> None:
    tls = self_signed_tls(tmp_path / "tls")
    password = os.urandom(12).hex()
    with SmtpServer(
        tmp_path / "secure-mail",
        tls_context=tls.server_context,
        credentials={"relay-user": password},
    ) as secure:

        def signing_in_with(secret: str) -> MailRelay:
            settings = mail_settings(
                secure,
                smtp_host="localhost",
                smtp_starttls=True,
                smtp_ca_file=str(tls.ca_file),
                smtp_username="relay-user",
                smtp_password=secret,
            )
            return MailRelay(queue, RENDERERS, settings)

        wrong = signing_in_with("not-" + password)
        await queue_order_mail(mongo, queue, "tls")
        assert await wrong.send_next() is True
        mail = await stored(queue, "tls")
        assert "SMTPAuthenticationError" in mail["lastError"]
        assert password not in mail["lastError"]
        assert secure.messages() == []

        # Due now rather than after its back-off: the relay is given the right password.
        await queue.collection.update_one(
            {"_id": mail["_id"]}, {"$set": {"nextAttemptAt": mail["createdAt"]}}
        )
        right = signing_in_with(password)
        assert await right.send_next() is True
        assert subjects(secure) == ["Your tickets for order tls"]


async def test_a_relay_that_does_not_trust_the_servers_certificate_sends_nothing(
    mongo: AsyncMongoClient[Any], queue: MailQueue, tmp_path: Path
) -> None:
    tls = self_signed_tls(tmp_path / "tls")
    with SmtpServer(tmp_path / "secure-mail", tls_context=tls.server_context) as secure:
        relay = MailRelay(
            queue, RENDERERS, mail_settings(secure, smtp_host="localhost", smtp_starttls=True)
        )
        await queue_order_mail(mongo, queue, "untrusted")
        assert await relay.send_next() is True
        assert "certificate" in (await stored(queue, "untrusted"))["lastError"].lower()
        assert secure.messages() == []


async def test_the_queue_depth_and_the_oldest_mails_age_are_sampled(
    mongo: AsyncMongoClient[Any], queue: MailQueue
) -> None:
    await queue.sample_depth()
    assert metric("tixvibe_mail_queued") == 0
    assert metric("tixvibe_mail_oldest_queued_age_seconds") == 0
    await queue_order_mail(mongo, queue, "waiting")
    await queue_order_mail(mongo, queue, "waiting too")
    await queue.sample_depth()
    assert metric("tixvibe_mail_queued") == 2
    assert 0 <= metric("tixvibe_mail_oldest_queued_age_seconds") < 60


async def test_queue_refuses_what_is_not_one_address_or_small_params(
    mongo: AsyncMongoClient[Any], queue: MailQueue
) -> None:
    async with mongo.start_session() as session:
        for to in ["no-at-sign", "a@example.com\r\nBcc: b@example.com", "a@x.com, b@y.com"]:
            with pytest.raises(ValueError, match="not one email address"):
                await queue.queue_mail(session, key="k", kind="order-complete", to=to, params={})
        with pytest.raises(ValueError, match="at most"):
            await queue.queue_mail(
                session,
                key="k",
                kind="order-complete",
                to="a@example.com",
                params={"pdf": "x" * 5000},
            )
    assert await queue.collection.count_documents({}) == 0


class OrdersLikeSettings(EventServiceSettings, MailSettings):
    service_name: str = "orders-like"


def test_mail_settings_compose_with_a_services_and_are_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir("/")
    for name in ("SMTP_HOST", "MAIL_FROM", "PUBLIC_URL", "SMTP_PASSWORD", "SMTP_STARTTLS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JWT_KEY", "k" * 40)
    monkeypatch.setenv("MONGO_URI", "mongodb://db:27017")
    monkeypatch.setenv("NATS_URL", "nats://nats:4222")
    with pytest.raises(ConfigurationError) as raised:
        load_settings(OrdersLikeSettings)
    for name in ("SMTP_HOST", "MAIL_FROM", "PUBLIC_URL"):
        assert f"{name} is required" in str(raised.value)

    monkeypatch.setenv("SMTP_HOST", "smtp.example.com")
    monkeypatch.setenv("MAIL_FROM", "TixVibe <tickets@example.com>")
    monkeypatch.setenv("PUBLIC_URL", "https://tixvibe.example/")
    monkeypatch.setenv("SMTP_USERNAME", "relay")
    monkeypatch.setenv("SMTP_PASSWORD", "a-secret-from-a-secret")
    settings = load_settings(OrdersLikeSettings)
    assert (settings.smtp_port, settings.smtp_starttls) == (587, True)
    assert settings.public_url == "https://tixvibe.example"
    assert settings.mail_domain == "example.com"
    assert "a-secret-from-a-secret" not in repr(settings)

    monkeypatch.setenv("SMTP_STARTTLS", "false")
    with pytest.raises(ConfigurationError, match="only sent over STARTTLS"):
        load_settings(OrdersLikeSettings)


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("MAIL_FROM", "tickets", "must be an address"),
        ("PUBLIC_URL", "tixvibe.example", "must be an http"),
        ("MAIL_LEASE_SECONDS", "50", "must exceed twice SMTP_TIMEOUT_SECONDS"),
    ],
)
def test_unusable_mail_settings_are_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, problem: str
) -> None:
    monkeypatch.chdir("/")
    monkeypatch.setenv("JWT_KEY", "k" * 40)
    monkeypatch.setenv("MONGO_URI", "mongodb://db:27017")
    monkeypatch.setenv("NATS_URL", "nats://nats:4222")
    monkeypatch.setenv("SMTP_HOST", "smtp.example.com")
    monkeypatch.setenv("MAIL_FROM", "TixVibe <tickets@example.com>")
    monkeypatch.setenv("PUBLIC_URL", "https://tixvibe.example")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=problem):
        load_settings(OrdersLikeSettings)
