"""Setting aside events no consumer could handle, where an operator can see and replay them.

A dead letter is the original payload, published on `deadletter.<subject>` in the same stream,
with headers saying which consumer gave up, why, after how many deliveries, and the original's
stream sequence. Its `Nats-Msg-Id` is derived from the original's, so several replicas setting
aside the same event store it once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import nats.errors
import orjson
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from tixcommon.bus.connection import EventBus
from tixcommon.bus.publisher import MSG_ID_HEADER, REQUEST_ID_HEADER, Publisher
from tixcommon.logging import log_context
from tixcommon.metrics import DEAD_LETTERS

logger = logging.getLogger(__name__)


class DeadLetters:
    def __init__(self, bus: EventBus, *, consumer: str, subject: str) -> None:
        self.bus = bus
        self.consumer = consumer
        self.subject = subject
        self._publisher = Publisher(bus)

    async def set_aside(
        self,
        data: bytes,
        *,
        event_id: str,
        request_id: str | None,
        reason: str,
        deliveries: int,
        stream_sequence: int,
    ) -> bool:
        """True once the dead letter is stored; False if the broker could not take it."""
        try:
            await self._publisher.publish_raw(
                f"deadletter.{self.subject}",
                data,
                event_id=f"{event_id}:{self.consumer}",
                request_id=request_id,
                extra_headers={
                    "Tix-Consumer": self.consumer,
                    "Tix-Reason": reason[:1000],
                    "Tix-Deliveries": str(deliveries),
                    "Tix-Stream-Sequence": str(stream_sequence),
                },
            )
        except (nats.errors.Error, OSError):
            logger.exception(
                "dead-lettering failed", extra={"payload": data.decode(errors="replace")[:4000]}
            )
            return False
        logger.error("event dead-lettered", extra={"reason": reason[:1000]})
        DEAD_LETTERS.labels(self.subject).inc()
        return True


class MaxDeliveriesWatcher:
    """Dead-letters what JetStream gave up on without our listener saying so: a replica that
    crashed or hung on the last allowed delivery. JetStream then only emits an advisory and
    stops redelivering; without this the event would sit unseen in the stream."""

    def __init__(self, bus: EventBus, dead_letters: DeadLetters) -> None:
        self.bus = bus
        self.dead_letters = dead_letters
        self._subscription: Subscription | None = None

    @property
    def advisory_subject(self) -> str:
        return (
            "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES."
            f"{self.bus.stream_name}.{self.dead_letters.consumer}"
        )

    async def start(self) -> None:
        self._subscription = await self.bus.nc.subscribe(
            self.advisory_subject, cb=self._on_advisory
        )

    async def stop(self) -> None:
        if self._subscription is not None:
            try:
                await self._subscription.unsubscribe()
            except (nats.errors.Error, OSError):
                logger.debug("advisory unsubscribe failed")
            self._subscription = None

    async def _on_advisory(self, advisory: Msg) -> None:
        try:
            notice = orjson.loads(advisory.data)
            sequence = int(notice["stream_seq"])
            deliveries = int(notice.get("deliveries", 0))
            original = await self.bus.js.get_msg(self.bus.stream_name, sequence)
        except (orjson.JSONDecodeError, KeyError, ValueError, nats.errors.Error) as error:
            logger.exception("unreadable max-deliveries advisory", extra={"error": repr(error)})
            return
        headers: Mapping[str, str] = original.headers or {}
        event_id = headers.get(MSG_ID_HEADER) or f"{self.bus.stream_name}:{sequence}"
        with log_context(subject=self.dead_letters.subject, event_id=event_id, delivery=deliveries):
            await self.dead_letters.set_aside(
                original.data or b"",
                event_id=event_id,
                request_id=headers.get(REQUEST_ID_HEADER),
                reason=f"no answer after {deliveries} deliveries (handler crashed or timed out)",
                deliveries=deliveries,
                stream_sequence=sequence,
            )
