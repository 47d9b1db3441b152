"""Traces: off unless asked for (no provider, no instrumentation, no warning), and the trace
context carried with an event from the change that caused it, through the outbox and NATS, to
the listener that handles it (a real nats-server and Mongo-wire server)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from bson import ObjectId
from opentelemetry import context, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from pymongo import AsyncMongoClient

from tixcommon.bus import (
    Delivery,
    DeliveryPolicy,
    EventBus,
    Listener,
    ListenerRunner,
    Outbox,
    OutboxRelay,
    Publisher,
    Transaction,
)
from tixcommon.events import TicketCreated
from tixtest import wait_until

NOTHING_CONFIGURED = """
import warnings
warnings.simplefilter("error")
from opentelemetry import trace
from tixcommon.tracing import configure_tracing
import tixcommon.app  # everything a service imports
assert configure_tracing("auth", {}) is False
assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"
import httpx, pymongo
assert not hasattr(httpx.AsyncClient.send, "__wrapped__"), "httpx was instrumented"
print("untouched")
"""


def test_with_nothing_configured_nothing_is_installed() -> None:
    ran = subprocess.run(
        [sys.executable, "-c", NOTHING_CONFIGURED], capture_output=True, text=True, check=False
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "untouched"
    assert ran.stderr == ""


class TraceRecorder(Listener[TicketCreated]):
    event_type = TicketCreated

    def __init__(self) -> None:
        self.trace_ids: list[int] = []

    async def handle(self, event: TicketCreated, delivery: Delivery) -> None:
        self.trace_ids.append(trace.get_current_span().get_span_context().trace_id)


async def test_an_events_trace_goes_through_the_outbox_and_nats_to_its_listener(
    bus: EventBus, mongo: AsyncMongoClient[Any], database_name: str
) -> None:
    recorder = TraceRecorder()
    outbox_collection = mongo[database_name]["outbox"]
    relay = OutboxRelay(outbox_collection, Publisher(bus), poll_seconds=0.05)
    outbox = Outbox(mongo, outbox_collection, on_commit=relay.hand_over)
    # The request's span, as the server instrumentation would have made it current.
    request = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C, span_id=0xB7AD6B7169203331,
        is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )  # fmt: skip
    event = TicketCreated(id=str(ObjectId()), version=0, title="t", price=5, user_id="c" * 24)

    async def work(tx: Transaction) -> None:
        tx.publish(event)

    runner = ListenerRunner(bus, recorder, service="traced", policy=DeliveryPolicy())
    await runner.start()
    relay.start()
    try:
        token = context.attach(trace.set_span_in_context(NonRecordingSpan(request)))
        try:
            await outbox.run(work)
        finally:
            context.detach(token)
        await wait_until(lambda: recorder.trace_ids, message="handled")
    finally:
        await relay.stop()
        await runner.stop()

    assert recorder.trace_ids == [request.trace_id]
