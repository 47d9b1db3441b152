"""Signed-out sessions: per account, the time before which its sessions are refused, kept by
every process that verifies sessions, fed by auth's `user.sessions-revoked` events.

Sessions are verified locally (tixcommon.auth), so ending them has to reach every process: each
reads the events itself from the stream, through a consumer of its own (not the durable one a
service's replicas share, which hands each event to one of them). At start a process reads back
every revocation still able to matter (those of the last session lifetime) before it answers a
request, so a process that was down when an event went by refuses the session all the same.
While it runs, the next event is waited for with a long poll, so it is applied within
milliseconds of its publish; a broker outage delays it, and the consumer is made again from
the last event read once the broker is back (docs/accounts.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from tixcommon.bus.connection import EventBus
from tixcommon.events import UserSessionsRevoked
from tixcommon.metrics import REVOKED_ACCOUNTS, SESSION_REVOCATIONS_APPLIED

logger = logging.getLogger(__name__)

# The server drops a process's consumer this long after its last fetch: a process that died
# leaves nothing behind for long. Far above the fetch's own expiry.
_INACTIVE_SECONDS = 60.0
_FETCH_BATCH = 256
_IDLE_FETCH_SECONDS = 1.0
_CATCH_UP_FETCH_SECONDS = 0.2
# Read back a little before one lifetime ago: clocks of two hosts differ by a little.
_CLOCK_MARGIN_SECONDS = 60


class RevokedSessions:
    """Per account, the `iat` before which its sessions are refused. One dictionary lookup per
    signed-in request; an entry is dropped once every session it refuses has expired anyway."""

    def __init__(self, session_lifetime_seconds: int) -> None:
        self._not_before: dict[str, int] = {}
        self.lifetime_seconds = session_lifetime_seconds
        self._next_prune = 0.0

    def refuses(self, account_id: str, issued_at: int) -> bool:
        not_before = self._not_before.get(account_id)
        return not_before is not None and issued_at < not_before

    def apply(self, account_id: str, not_before: int) -> None:
        """Idempotent and order-free: a redelivered or late event changes nothing."""
        if not_before > self._not_before.get(account_id, 0):
            self._not_before[account_id] = not_before
        self._prune(time.time())

    def __len__(self) -> int:
        return len(self._not_before)

    def _prune(self, now: float) -> None:
        if now < self._next_prune:
            return
        self._next_prune = now + 60
        # A session refused by an entry was issued before its not_before, so it expired a
        # lifetime after it at the latest.
        horizon = now - self.lifetime_seconds - _CLOCK_MARGIN_SECONDS
        for account_id in [a for a, t in self._not_before.items() if t < horizon]:
            del self._not_before[account_id]


class RevocationFeed:
    """Reads `user.sessions-revoked` into a `RevokedSessions`, through this process's own
    consumer."""

    def __init__(self, bus: EventBus, revoked: RevokedSessions, *, process: str) -> None:
        self.bus = bus
        self.revoked = revoked
        self._process = process
        self._subject = bus.subject(UserSessionsRevoked.subject.value)
        self._last_sequence = 0  # of the stream: where a new consumer resumes
        self._subscription: JetStreamContext.PullSubscription | None = None
        self._name = ""
        # Checked between fetches: on Python 3.11 a cancel that lands as a fetch's read
        # completes can be lost (tixcommon.opening), and the loop would outlive its process's
        # shutdown.
        self.stopping = asyncio.Event()

    async def catch_up(self) -> int:
        """Every revocation of the last session lifetime, read before the process answers:
        how many were read."""
        await self._subscribe()
        read = 0
        while True:
            try:
                read_now, pending = await self._fetch(_CATCH_UP_FETCH_SECONDS, _FETCH_BATCH)
            except TimeoutError:
                return read
            read += read_now
            if pending == 0:
                return read

    async def follow(self) -> None:
        """Apply revocations as they are published, until cancelled; through broker outages."""
        failures = pending = 0
        while not self.stopping.is_set():
            try:
                if self._subscription is None:
                    await self._subscribe()
                # Idle, one at a time: nats-py answers a waiting fetch only when its batch is
                # full or it expires, which would hold a lone revocation for the whole second.
                _, pending = await (
                    self._fetch(_CATCH_UP_FETCH_SECONDS, min(pending, _FETCH_BATCH))
                    if pending
                    else self._fetch(_IDLE_FETCH_SECONDS, 1)
                )
                failures = 0
            except TimeoutError:
                pending = 0
                continue
            except (nats.errors.Error, OSError) as error:
                # The consumer is gone (the broker restarted, or dropped it as idle during an
                # outage) or unreachable: make it again from the last event read.
                failures += 1
                logger.warning("revocation feed fetch failed", extra={"error": repr(error)})
                await self._unsubscribe()
                await asyncio.sleep(min(0.2 * failures, 5.0))  # back-off, not a wait for state

    async def _subscribe(self) -> None:
        js = self.bus.js
        self._name = f"revocations-{self._process}-{secrets.token_hex(6)}"
        if self._last_sequence:
            start = {
                "deliver_policy": DeliverPolicy.BY_START_SEQUENCE,
                "opt_start_seq": self._last_sequence + 1,
            }
        else:
            since = time.time() - self.revoked.lifetime_seconds - _CLOCK_MARGIN_SECONDS
            start = {
                "deliver_policy": DeliverPolicy.BY_START_TIME,
                "opt_start_time": datetime.fromtimestamp(since, UTC).isoformat(),
            }
        config = ConsumerConfig(
            name=self._name,
            description=f"session revocations read by {self._process}",
            filter_subject=self._subject,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=_INACTIVE_SECONDS,
            mem_storage=True,
            **start,  # type: ignore[arg-type]
        )
        await js.add_consumer(self.bus.stream_name, config)
        self._subscription = await js.pull_subscribe_bind(
            consumer=self._name, stream=self.bus.stream_name
        )

    async def _fetch(self, timeout: float, batch: int) -> tuple[int, int]:
        """Apply the next batch: how many, and how many the server says are still pending."""
        assert self._subscription is not None
        messages = await self._subscription.fetch(batch, timeout=timeout)
        for message in messages:
            self._last_sequence = message.metadata.sequence.stream
            try:
                event = UserSessionsRevoked.model_validate_json(message.data)
            except ValidationError:
                logger.error("malformed revocation ignored", extra={"seq": self._last_sequence})
                continue
            self.revoked.apply(event.id, event.not_before)
            SESSION_REVOCATIONS_APPLIED.inc()
        REVOKED_ACCOUNTS.set(len(self.revoked))
        return len(messages), messages[-1].metadata.num_pending if messages else 0

    async def _unsubscribe(self) -> None:
        if self._subscription is None:
            return
        subscription, self._subscription = self._subscription, None
        with contextlib.suppress(nats.errors.Error, OSError):
            await subscription.unsubscribe()
        with contextlib.suppress(nats.errors.Error, OSError, TimeoutError):
            await self.bus.js.delete_consumer(self.bus.stream_name, self._name)


@asynccontextmanager
async def following_revocations(
    bus: EventBus, revoked: RevokedSessions, *, process: str
) -> AsyncIterator[RevocationFeed]:
    """Caught up on entry (so the process may answer), following until exit."""
    feed = RevocationFeed(bus, revoked, process=process)
    try:
        await feed.catch_up()
        task = asyncio.create_task(feed.follow(), name="session revocations")
        try:
            yield feed
        finally:
            feed.stopping.set()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, 5)
    finally:
        await feed._unsubscribe()
