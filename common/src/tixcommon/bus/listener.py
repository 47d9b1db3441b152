"""Durable, shared pull consumers that apply the contract's delivery policy.

What becomes of each delivery is decided by `tixcommon.bus.settlement.settle` (ack, nak with a
growing delay, keep in hand, dead letter); the runner carries it out. A dependency that is away
(an outage) is retried in hand until it is back, using no delivery. A last delivery that got no
answer at all (a replica crashed or hung) is set aside too, through JetStream's advisory.

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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import nats.errors
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from tixcommon.bus.connection import EventBus
from tixcommon.bus.deadletter import DeadLetters, MaxDeliveriesWatcher
from tixcommon.bus.publisher import MSG_ID_HEADER, REQUEST_ID_HEADER
from tixcommon.bus.settlement import Action, DeliveryPolicy, Result, Settlement, settle
from tixcommon.db import ApplyResult
from tixcommon.events import Event
from tixcommon.logging import log_context
from tixcommon.metrics import (
    CONSUMER_ACK_PENDING,
    CONSUMER_PENDING,
    EVENT_HANDLING_DURATION,
    EVENTS_HANDLED,
)
from tixcommon.outages import is_outage
from tixcommon.tracing import handling_event

# How long a backlog fetch may wait when the backlog turns out to be gone (another replica took
# it): the bound on an event's wait in that race.
_BACKLOG_FETCH_SECONDS = 0.1

logger = logging.getLogger(__name__)

EventT = TypeVar("EventT", bound=Event)


class Outcome(enum.Enum):
    ACK = "ack"
    DUPLICATE = "duplicate"  # acked: it had been applied already (a redelivery)
    RETRY_LATER = "retry_later"

    @classmethod
    def of(cls, applied: ApplyResult) -> Outcome:
        """A replica's change: wait for the earlier version, else done (now or before)."""
        if applied is ApplyResult.NOT_YET:
            return cls.RETRY_LATER
        return cls.DUPLICATE if applied is ApplyResult.ALREADY_APPLIED else cls.ACK


@dataclass(frozen=True)
class Delivery:
    event_id: str
    subject: str
    attempt: int
    stream_sequence: int
    request_id: str | None


class Listener(abc.ABC, Generic[EventT]):
    """Handles one subject. Must be idempotent: the same event may arrive more than once."""

    event_type: type[EventT]

    @property
    def name(self) -> str:
        return type(self).__name__

    @abc.abstractmethod
    async def handle(self, event: EventT, delivery: Delivery) -> Outcome | None:
        """Apply the event. Return RETRY_LATER when it cannot be applied yet; raise on failure."""


Handler = Callable[[EventT], Awaitable[Outcome | None]]
"""A service method that applies one kind of event: RETRY_LATER when it cannot be applied yet."""


class Subscription(Listener[EventT]):
    """A handler subscribed to its event's subject: what a service's listeners mostly are."""

    def __init__(self, event_type: type[EventT], handler: Handler[EventT]) -> None:
        self.event_type = event_type
        self.handler = handler

    @property
    def name(self) -> str:
        return getattr(self.handler, "__qualname__", repr(self.handler))

    async def handle(self, event: EventT, delivery: Delivery) -> Outcome | None:
        return await self.handler(event)


def on(event_type: type[EventT], handler: Handler[EventT]) -> Subscription[EventT]:
    """`on(OrderCreated, tickets.take_seats)`: the handler hears every OrderCreated."""
    return Subscription(event_type, handler)


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
            description=f"{self.listener.name} on {self.subject}",
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

    async def sample_lag(self) -> None:
        """JetStream's own count of what this consumer has still to handle, into the metrics."""
        info = await self.bus.js.consumer_info(self.bus.stream_name, self.durable)
        CONSUMER_PENDING.labels(self.durable).set(info.num_pending or 0)
        CONSUMER_ACK_PENDING.labels(self.durable).set(info.num_ack_pending or 0)

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
        began = time.perf_counter()
        with (
            handling_event(
                headers, subject=delivery.subject, consumer=self.durable,
                request_id=delivery.request_id,
            ),
            log_context(
                request_id=delivery.request_id,
                subject=delivery.subject,
                event_id=delivery.event_id,
                delivery=delivery.attempt,
            ),
        ):  # fmt: skip
            try:
                event = self.listener.event_type.model_validate_json(message.data)
            except ValidationError as error:
                reason = f"invalid payload: {error}"
                decision = settle(Result.UNPARSEABLE, delivery.attempt, self.policy)
                await self._carry_out(decision, message, delivery, reason)
                self._count(decision, "dead_lettered", began)
                return
            result, reason, came_to = await self._try(message, event, delivery)
            decision = settle(result, delivery.attempt, self.policy)
            if decision.action is Action.KEEP_IN_HAND:
                result, reason, came_to = await self._last_wait(message, event, delivery)
                decision = settle(result, delivery.attempt, self.policy, kept_in_hand=True)
            if result is Result.NOT_YET:
                logger.info("event deferred", extra={"reason": reason})
            await self._carry_out(decision, message, delivery, reason)
            self._count(decision, came_to, began)

    def _count(self, decision: Settlement, came_to: str, began: float) -> None:
        outcome = "dead_lettered" if decision.action is Action.DEAD_LETTER else came_to
        EVENTS_HANDLED.labels(self.durable, outcome).inc()
        EVENT_HANDLING_DURATION.labels(self.durable).observe(time.perf_counter() - began)

    async def _try(self, message: Msg, event: Event, delivery: Delivery) -> tuple[Result, str, str]:
        """Handle the event once (through any outage): what it came to, why, and its name in
        the metrics (applied, duplicate, held: applied after an outage, retry_later, failed)."""
        try:
            outcome, outages = await self._handle_through_outages(message, event, delivery)
        except Exception as error:
            if is_outage(error):  # only when stopping: let another replica have it soon
                return Result.STOPPED_IN_OUTAGE, f"stopping in an outage: {error!r}", "failed"
            logger.warning("handler failed", exc_info=True)
            return Result.FAILED, f"{type(error).__name__}: {error}", "failed"
        if outcome is Outcome.RETRY_LATER:
            return Result.NOT_YET, "waiting for an earlier version", "retry_later"
        if outages:
            return Result.HANDLED, "", "held"
        return Result.HANDLED, "", "duplicate" if outcome is Outcome.DUPLICATE else "applied"

    async def _carry_out(
        self, decision: Settlement, message: Msg, delivery: Delivery, reason: str
    ) -> None:
        if decision.action is Action.ACK:
            await self._settle(message.ack())
            logger.debug("event handled")
        elif decision.action is Action.NAK:
            await self._settle(message.nak(delay=decision.delay))
        elif decision.action is Action.DEAD_LETTER:
            await self._dead_letter(message, delivery, reason)
        else:
            raise AssertionError(f"the runner keeps an event in hand itself: {decision}")

    async def _handle_through_outages(
        self, message: Msg, event: Event, delivery: Delivery
    ) -> tuple[Outcome | None, int]:
        """Handle the event, retrying it here for as long as a dependency is away.

        An outage says nothing about the event, so it must not use up the deliveries kept for
        events no retry can fix: a database restart longer than the retry budget would
        otherwise set good events aside (an order never cancelled, a replica left behind).
        Marking the message in progress keeps JetStream from handing it to another replica
        meanwhile; if the broker is away too, it comes back after the ack wait, which the
        listener's idempotence makes harmless. Also says how many outages it waited through."""
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
                return outcome, outages
            await self._pause_in_hand(message, outages)

    async def _last_wait(
        self, message: Msg, event: Event, delivery: Delivery
    ) -> tuple[Result, str, str]:
        """The last delivery of an event still waiting for an earlier one: keep it in hand for
        two ack waits more, trying again now and then. The earlier event may be held by a
        replica that crashed, and comes back only after the ack wait, however short the
        redelivery budget was; an earlier event that never comes (itself set aside) still ends
        in the dead letters."""
        deadline = time.monotonic() + 2 * self.policy.ack_wait_seconds
        result, reason, came_to = Result.NOT_YET, "waiting for an earlier version", "retry_later"
        waits = 0
        while result is Result.NOT_YET and time.monotonic() < deadline:
            if self._stopping.is_set():
                break
            waits += 1
            await self._pause_in_hand(message, waits)
            result, reason, came_to = await self._try(message, event, delivery)
        return result, reason, came_to

    async def _pause_in_hand(self, message: Msg, pauses: int) -> None:
        """Wait before trying an event in hand again, keeping it ours meanwhile (in progress
        renews its ack wait, so JetStream hands it to no other replica)."""
        with contextlib.suppress(nats.errors.Error, OSError):
            await message.in_progress()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), self.policy.outage_pause(pauses))

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
