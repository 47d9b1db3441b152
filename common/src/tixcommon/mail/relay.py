"""The mail relay: sends what the mail queue holds through SMTP, each mail until the SMTP relay
accepts it.

Each mail is claimed (one atomic write, so of several replicas exactly one has it), rendered by
the renderer its service registered for its kind, sent with aiosmtplib, then marked sent. A
failure (the SMTP server down, a refusal, a renderer raising) is recorded on the mail and it is
tried again after a back-off that doubles to a cap: a mail is never given up, so none is lost.

At least once, and once in all but one case: a crash (or a database outage that outlasts the
lease) after the SMTP server accepted a message and before the write that marks it sent makes
the mail due again when its claim's lease runs out, and it is sent a second time. The window is
that one write. Every message's Message-ID is derived from its key, so such a duplicate carries
the same Message-ID as the first and a mail client or the relay can recognise it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import aiosmtplib
from pymongo.asynchronous.database import AsyncDatabase

from tixcommon.mail.metrics import MAIL_FAILURES, MAIL_SENT
from tixcommon.mail.queue import MAIL_COLLECTION, MailQueue, QueuedMail
from tixcommon.mail.settings import MailSettings
from tixcommon.periodic import running_every

logger = logging.getLogger(__name__)

# Renders a mail's message from its address and parameters, when it is sent: the subject and
# the parts. The relay sets From, To, Date and Message-ID.
MailRenderer = Callable[[str, Mapping[str, Any]], Awaitable[EmailMessage]]

_ENVELOPE_HEADERS = ("From", "To", "Date", "Message-ID", "Auto-Submitted")


def message_id(key: str, domain: str) -> str:
    """The same for every attempt at one mail, so a duplicate is recognisable."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


class MailRelay:
    """Sends queued mail of the kinds it has renderers for (a replica of an older release
    leaves a kind it does not know to the replicas that do)."""

    def __init__(
        self,
        queue: MailQueue,
        renderers: Mapping[str, MailRenderer],
        settings: MailSettings,
    ) -> None:
        if not renderers:
            raise ValueError("a mail relay needs at least one renderer")
        self.queue = queue
        self.renderers = dict(renderers)
        self.settings = settings
        self._tls = _tls_context(settings) if settings.smtp_starttls else None
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """A mail was just committed: look now rather than at the next poll."""
        self._wakeup.set()

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="mail-relay")

    async def stop(self) -> None:
        """Finish the mail in hand (bounded by its attempt's timeout), then stop: a send cut
        off after the server accepted it would be sent again."""
        self._stopping = True
        self._wakeup.set()
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._task), self.settings.smtp_timeout_seconds)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            self._wakeup.clear()
            try:
                claimed = await self.send_next()
            except Exception as error:  # noqa: BLE001 - the relay must outlive any failure
                # The database is down: what was claimed is due again when its lease ends.
                failures += 1
                delay = min(0.1 * 2**failures, 5.0)
                logger.warning("mail relay failed", extra={"error": repr(error)})
            else:
                failures = 0
                if claimed:
                    continue  # more may be due
                delay = self.settings.mail_poll_seconds
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), delay)

    async def send_next(self) -> bool:
        """Claim one due mail and try to send it; False when none is due."""
        mail = await self.queue.claim(
            self.renderers, timedelta(seconds=self.settings.mail_lease_seconds)
        )
        if mail is None:
            return False
        kind = mail["kind"]
        try:
            async with asyncio.timeout(self.settings.smtp_timeout_seconds):
                message = await self._render(mail)
                await self._send(message)
        except Exception as error:  # noqa: BLE001 - recorded on the mail, retried
            MAIL_FAILURES.labels(kind).inc()
            retry_in = self.backoff(mail["attempts"])
            logger.warning(
                "mail not sent, retrying",
                extra={
                    "mail_key": mail["key"],
                    "mail_kind": kind,
                    "attempts": mail["attempts"],
                    "retry_in_seconds": round(retry_in, 1),
                    "error": type(error).__name__,
                },
            )
            await self.queue.mark_failed(mail, error, retry_in)
            return True
        MAIL_SENT.labels(kind).inc()
        await self._mark_sent(mail)
        return True

    def backoff(self, attempts: int) -> float:
        """Seconds before the next attempt after `attempts` failed: doubling to the cap, each
        jittered down by up to half."""
        settings = self.settings
        ceiling = min(
            settings.mail_retry_base_seconds * 2.0 ** min(attempts - 1, 32),
            settings.mail_retry_max_seconds,
        )
        return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - spreading retries, not a secret

    async def _render(self, mail: QueuedMail) -> EmailMessage:
        message = await self.renderers[mail["kind"]](mail["to"], mail["params"])
        for header in _ENVELOPE_HEADERS:
            del message[header]
        message["From"] = self.settings.mail_from
        message["To"] = mail["to"]
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = message_id(mail["key"], self.settings.mail_domain)
        # RFC 3834: no out-of-office replies to a message no one typed.
        message["Auto-Submitted"] = "auto-generated"
        return message

    async def _send(self, message: EmailMessage) -> None:
        settings = self.settings
        password = settings.smtp_password.get_secret_value()
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            # Explicit either way: None would upgrade only when the server offers it, which a
            # man in the middle can strip.
            start_tls=settings.smtp_starttls,
            tls_context=self._tls,
            username=settings.smtp_username or None,
            password=password or None,
            timeout=settings.smtp_timeout_seconds,
        )

    async def _mark_sent(self, mail: QueuedMail) -> None:
        """The write that closes the duplicate window, tried until the database takes it: while
        it is away no relay can claim the mail again either, and once it is back this write
        comes within a second. (Given up after half the lease, a database outage longer than
        that had the mail sent twice: the fault suite saw it.)"""
        delay = 0.05
        while True:
            try:
                await self.queue.mark_sent(mail)
                return
            except Exception as error:  # noqa: BLE001 - retried until it is written
                logger.warning(
                    "mail sent, not yet marked sent",
                    extra={"mail_key": mail["key"], "error": type(error).__name__},
                )
            await asyncio.sleep(delay)  # a back-off between writes, not a wait for a condition
            delay = min(delay * 2, 1.0)


def _tls_context(settings: MailSettings) -> ssl.SSLContext:
    """The system's CAs, or the configured bundle; the relay's name is always checked."""
    return ssl.create_default_context(cafile=settings.smtp_ca_file or None)


@asynccontextmanager
async def running_mail(
    database: AsyncDatabase[Any],
    renderers: Mapping[str, MailRenderer],
    settings: MailSettings,
    *,
    sample_seconds: float | None = None,
) -> AsyncIterator[MailRelay]:
    """A service's mail for the block's duration: the queue in `database` (indexes made), its
    relay started, and its depth sampled into the metrics every `sample_seconds` when given.
    Queue through `relay.queue`; call `relay.wake()` after the commit."""
    queue = MailQueue(database[MAIL_COLLECTION])
    await queue.ensure_indexes()
    relay = MailRelay(queue, renderers, settings)
    relay.start()
    try:
        if sample_seconds is None:
            yield relay
        else:
            async with running_every(sample_seconds, queue.sample_depth, name="mail sampling"):
                yield relay
    finally:
        await relay.stop()
