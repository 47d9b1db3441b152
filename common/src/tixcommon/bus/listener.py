"""Durable, shared pull consumers that apply the contract's delivery policy.

- success (or "already applied")          -> ack
- "not yet" (an earlier version is due)  -> nak with a growing delay, so it comes back later;
                                            its last delivery waits in hand two ack waits more
- an exception                            -> nak with a growing delay (JetStream redelivers)
- a dependency is away (an outage)        -> retried in hand until it is back; no delivery used
- the last allowed delivery still fails,
  or the payload can never be parsed      -> copied to `deadletter.<subject>`, then terminated
- the last delivery got no answer at all
  (a replica crashed or hung)             -> JetStream's advisory makes us copy it there too

Every replica of a service binds the same durable consumer, so each event is handled by exactly
one replica, and events published while the service is down wait for it. The consumer's
configuration is re-applied on every start, so a changed policy takes effect on deploy.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import nats.errors
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from tixcommon.bus.connection import EventBus
from tixcommon.bus.deadletter import DeadLetters, MaxDeliveriesWatcher
from tixcommon.bus.publisher import MSG_ID_HEADER, REQUEST_ID_HEADER
from tixcommon.events import Event
from tixcommon.logging import log_context
from tixcommon.outages import is_outage

# How long a backlog fetch may wait when the backlog turns out to be gone (another replica took
# it): the bound on an event's wait in that race.
_BACKLOG_FETCH_SECONDS = 0.1

logger = logging.getLogger("tixcommon.listener")

EventT = TypeVar("EventT", bound=Event)


class Outcome(enum.Enum):
    ACK = "ack"
    RETRY_LATER = "retry_later"


@dataclass(frozen=True)
class Delivery:
    event_id: str
    subject: str
    attempt: int
    stream_sequence: int
    request_id: str | None


@dataclass(frozen=True)
class DeliveryPolicy:
    max_deliver: int = 20
    ack_wait_seconds: float = 30.0
    retry_base_seconds: float = 0.1
    retry_max_seconds: float = 30.0
    batch: int = 10

    def retry_delay(self, attempt: int) -> float:
        return float(min(self.retry_base_seconds * 2 ** (attempt - 1), self.retry_max_seconds))

    def outage_pause(self, outages: int) -> float:
        """The wait before retrying an event in hand through an outage: growing like a
        redelivery's, but short enough to renew the message's ack wait in time."""
        return min(self.retry_delay(outages), self.ack_wait_seconds / 3)


class Listener(abc.ABC, Generic[EventT]):
    """Handles one subject. Must be idempotent: the same event may arrive more than once."""

    event_type: ClassVar[type[Event]]

    @abc.abstractmethod
    async def handle(self, event: EventT, delivery: Delivery) -> Outcome | None:
        """Apply the event. Return RETRY_LATER when it cannot be applied yet; raise on failure."""


def durable_name(service: str, subject: str) -> str:
    return f"{service}-{subject.replace('.', '-')}"


class ListenerRunner:
    """Runs one listener on its durable consumer until stopped."""

    def __init__(
        self,
        bus: EventBus,
        listener: Listener[Any],
        *,
        service: str,
        policy: DeliveryPolicy,
    ) -> None:
        self.bus = bus
        self.listener = listener
        self.policy = policy
        self.subject = listener.event_type.subject.value
        self.durable = durable_name(service, self.subject)
        self._dead_letters = DeadLetters(bus, consumer=self.durable, subject=self.subject)
        self._watcher = MaxDeliveriesWatcher(bus, self._dead_letters)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._handling = False

    def consumer_config(self) -> ConsumerConfig:
        return ConsumerConfig(
            name=self.durable,
            durable_name=self.durable,
            description=f"{self.listener.__class__.__name__} on {self.subject}",
            filter_subject=self.bus.subject(self.subject),
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.policy.ack_wait_seconds,
            max_deliver=self.policy.max_deliver,
            max_ack_pending=1000,
        )

    async def start(self) -> None:
        # Creating a consumer that exists updates it to this configuration.
        await self.bus.js.add_consumer(self.bus.stream_name, self.consumer_config())
        await self._watcher.start()
        subscription = await self.bus.js.pull_subscribe_bind(
            durable=self.durable, stream=self.bus.stream_name
        )
        self._task = asyncio.create_task(self._run(subscription), name=f"listener:{self.durable}")

    async def stop(self, timeout: float = 10.0) -> None:
        """Finish the message in hand, then stop fetching."""
        self._stopping.set()
        await self._watcher.stop()
        if self._task is None:
            return
        if not self._handling:
            # Idle in a fetch: nothing in hand to finish, so don't wait for the fetch to expire.
            self._task.cancel()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except asyncio.CancelledError:
            pass
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, subscription: nats.js.JetStreamContext.PullSubscription) -> None:
        try:
            await self._fetch_and_handle(subscription)
        finally:
            # Also when cancelled while idle: a subscription left behind would hold up the
            # connection's drain at shutdown.
            with contextlib.suppress(nats.errors.Error, OSError):
                await subscription.unsubscribe()

    async def _fetch_and_handle(
        self, subscription: nats.js.JetStreamContext.PullSubscription
    ) -> None:
        failures = 0
        waiting = 0  # what the server said was still waiting after the last message
        while not self._stopping.is_set():
            try:
                if waiting:
                    # A backlog: its no-wait probe hands over what is there at once.
                    batch = min(self.policy.batch, waiting)
                    messages = await subscription.fetch(batch, timeout=_BACKLOG_FETCH_SECONDS)
                else:
                    # Idle: wait for the next event alone. nats-py answers a waiting fetch
                    # only once its batch is full or the request expires, so a batch here
                    # would hold a lone event for up to the whole second (the 0.9 s p99 of
                    # "payment -> order complete" in the benchmarks).
                    messages = await subscription.fetch(1, timeout=1.0)
                failures = 0
            except TimeoutError:
                waiting = 0
                continue
            except (nats.errors.Error, OSError) as error:
                # Broker unreachable: the client reconnects on its own; back off meanwhile.
                failures += 1
                waiting = 0
                logger.warning(
                    "fetch failed", extra={"consumer": self.durable, "error": repr(error)}
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), min(0.2 * failures, 5.0))
                continue
            self._handling = True
            try:
                for message in messages:
                    await self.process(message)
            finally:
                self._handling = False
            waiting = messages[-1].metadata.num_pending if messages else 0

    async def process(self, message: Msg) -> None:
        metadata = message.metadata
        headers = message.headers or {}
        delivery = Delivery(
            event_id=headers.get(MSG_ID_HEADER) or f"{metadata.stream}:{metadata.sequence.stream}",
            subject=self.subject,
            attempt=metadata.num_delivered,
            stream_sequence=metadata.sequence.stream,
            request_id=headers.get(REQUEST_ID_HEADER),
        )
        with log_context(
            request_id=delivery.request_id,
            subject=delivery.subject,
            event_id=delivery.event_id,
            delivery=delivery.attempt,
        ):
            try:
                event = self.listener.event_type.model_validate_json(message.data)
            except ValidationError as error:
                # No number of retries will make this parse: set it aside now.
                await self._dead_letter(message, delivery, f"invalid payload: {error}")
                return
            try:
                outcome = await self._handle_through_outages(message, event, delivery)
                if outcome is Outcome.RETRY_LATER and delivery.attempt >= self.policy.max_deliver:
                    outcome = await self._last_wait(message, event, delivery)
            except Exception as error:
                if is_outage(error):  # only when stopping: let another replica have it soon
                    await self._settle(message.nak(delay=self.policy.retry_base_seconds))
                    return
                await self._failed(message, delivery, f"{type(error).__name__}: {error}")
                logger.warning("handler failed", exc_info=True)
                return
            if outcome is Outcome.RETRY_LATER:
                await self._retry_later(message, delivery, "waiting for an earlier version")
                return
            await self._settle(message.ack())
            logger.debug("event handled")

    async def _handle_through_outages(
        self, message: Msg, event: Event, delivery: Delivery
    ) -> Outcome | None:
        """Handle the event, retrying it here for as long as a dependency is away.

        An outage says nothing about the event, so it must not use up the deliveries kept for
        events no retry can fix: a database restart longer than the retry budget would
        otherwise set good events aside (an order never cancelled, a replica left behind).
        Marking the message in progress keeps JetStream from handing it to another replica
        meanwhile; if the broker is away too, it comes back after the ack wait, which the
        listener's idempotence makes harmless."""
        outages = 0
        while True:
            try:
                outcome = await self.listener.handle(event, delivery)
            except Exception as error:
                if not is_outage(error) or self._stopping.is_set():
                    raise
                outages += 1
                if outages == 1:
                    logger.warning(
                        "dependency unavailable, retrying the event", extra={"error": repr(error)}
                    )
            else:
                if outages:
                    logger.info("event handled after an outage", extra={"retries": outages})
                return outcome
            await self._pause_in_hand(message, outages)

    async def _last_wait(self, message: Msg, event: Event, delivery: Delivery) -> Outcome | None:
        """The last delivery of an event still waiting for an earlier one: keep it in hand for
        two ack waits more before setting it aside. The earlier event may be held by a replica
        that crashed, and comes back only after the ack wait, however short the redelivery
        budget was; an earlier event that never comes (itself set aside) still ends here."""
        deadline = time.monotonic() + 2 * self.policy.ack_wait_seconds
        outcome: Outcome | None = Outcome.RETRY_LATER
        waits = 0
        while outcome is Outcome.RETRY_LATER and time.monotonic() < deadline:
            if self._stopping.is_set():
                break
            waits += 1
            await self._pause_in_hand(message, waits)
            outcome = await self._handle_through_outages(message, event, delivery)
        return outcome

    async def _pause_in_hand(self, message: Msg, pauses: int) -> None:
        """Wait before trying an event in hand again, keeping it ours meanwhile (in progress
        renews its ack wait, so JetStream hands it to no other replica)."""
        with contextlib.suppress(nats.errors.Error, OSError):
            await message.in_progress()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), self.policy.outage_pause(pauses))

    async def _failed(self, message: Msg, delivery: Delivery, reason: str) -> None:
        if delivery.attempt >= self.policy.max_deliver:
            await self._dead_letter(message, delivery, reason)
        else:
            await self._settle(message.nak(delay=self.policy.retry_delay(delivery.attempt)))

    async def _retry_later(self, message: Msg, delivery: Delivery, reason: str) -> None:
        logger.info("event deferred", extra={"reason": reason})
        await self._failed(message, delivery, reason)

    async def _dead_letter(self, message: Msg, delivery: Delivery, reason: str) -> None:
        stored = await self._dead_letters.set_aside(
            message.data,
            event_id=delivery.event_id,
            request_id=delivery.request_id,
            reason=reason,
            deliveries=delivery.attempt,
            stream_sequence=delivery.stream_sequence,
        )
        if stored:
            await self._settle(message.term())
        # Otherwise leave it unacked: below max_deliver it comes back after ack_wait; on the last
        # delivery the max-deliveries watcher sets it aside once the broker answers again.

    @staticmethod
    async def _settle(action: Awaitable[None]) -> None:
        try:
            await action
        except (nats.errors.Error, OSError) as error:
            # The ack was lost with the connection: the event comes back and is applied again,
            # which the listener's idempotence makes harmless.
            logger.warning("could not settle message", extra={"error": repr(error)})
