"""Publishing to JetStream with a dedupe id and the request id that caused the event.

Request handlers and listeners never call this: their events go through the outbox, whose
relay publishes them after the commit. The direct users are the relay, dead-lettering, and the
expiration worker, whose `expiration.complete` is idempotent by construction (see
`expiration.service.Expirer`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from nats.js.api import PubAck

from tixcommon.bus.connection import EventBus
from tixcommon.events import Event
from tixcommon.logging import current_request_id
from tixcommon.metrics import EVENTS_PUBLISHED
from tixcommon.tracing import trace_headers

MSG_ID_HEADER = "Nats-Msg-Id"
REQUEST_ID_HEADER = "X-Request-Id"


class Publisher:
    def __init__(self, bus: EventBus, *, timeout: float = 5.0) -> None:
        self.bus = bus
        self.timeout = timeout

    async def publish(
        self, event: Event, *, event_id: str | None = None, request_id: str | None = None
    ) -> PubAck:
        return await self.publish_raw(
            event.subject.value,
            event.to_bytes(),
            event_id=event_id or uuid.uuid4().hex,
            request_id=request_id or current_request_id(),
        )

    async def publish_raw(
        self,
        subject: str,
        data: bytes,
        *,
        event_id: str,
        request_id: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        wire_subject: str | None = None,
        trace: Mapping[str, str] | None = None,
    ) -> PubAck:
        """Publish and wait for JetStream's ack. A repeated `event_id` is dropped by the stream
        (within its duplicate window), so publishing again after a crash is always safe.
        `trace`: the trace context to send (by default the current one)."""
        trace = trace_headers() if trace is None else trace
        headers = {MSG_ID_HEADER: event_id, **trace, **(extra_headers or {})}
        if request_id:
            headers[REQUEST_ID_HEADER] = request_id
        ack: PubAck = await self.bus.js.publish(
            wire_subject or self.bus.subject(subject),
            data,
            headers=headers,
            stream=self.bus.stream_name,
            timeout=self.timeout,
        )
        EVENTS_PUBLISHED.labels(subject).inc()
        return ack
