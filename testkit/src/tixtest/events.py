"""Watching the stream from a test: wait for an event with a deadline, count what was published."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import orjson
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from tixcommon.bus import EventBus


class EventTimeout(AssertionError):
    pass


async def stream_messages(bus: EventBus, subject: str) -> list[Any]:
    """Every message stored on `subject` (a contract subject) so far, oldest first."""
    info = await bus.js.stream_info(bus.stream_name)
    if info.state.messages == 0:
        return []
    consumer = await bus.js.pull_subscribe(
        bus.subject(subject),
        stream=bus.stream_name,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=30.0,
        ),
    )
    messages: list[Any] = []
    try:
        while True:
            pending = (await consumer.consumer_info()).num_pending or 0
            if pending == 0:
                return messages
            messages.extend(await consumer.fetch(min(pending, 256), timeout=5))
    finally:
        await consumer.unsubscribe()


async def wait_for_event(
    bus: EventBus,
    subject: str,
    predicate: Callable[[dict[str, Any]], bool] = lambda _: True,
    *,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """The first event on `subject` (published before or after the call) whose JSON payload
    satisfies `predicate`; fails the test at the deadline."""
    deadline = time.monotonic() + timeout
    seen: set[int] = set()
    while time.monotonic() < deadline:
        for message in await stream_messages(bus, subject):
            sequence = message.metadata.sequence.stream
            if sequence in seen:
                continue
            seen.add(sequence)
            payload: dict[str, Any] = orjson.loads(message.data)
            if predicate(payload):
                return payload
        await asyncio.sleep(0.02)
    raise EventTimeout(f"no matching {subject} event within {timeout}s")


async def wait_until(
    condition: Callable[[], Any], *, timeout: float = 10.0, message: str = "condition"
) -> Any:
    """Poll an async or sync condition until it returns something truthy, with a deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() >= deadline:
            raise EventTimeout(f"{message} not met within {timeout}s")
        await asyncio.sleep(0.01)


async def consumers_idle(bus: EventBus, *durables: str) -> bool:
    """True once each durable consumer has handled (acked or set aside) all it was given."""
    for durable in durables:
        info = await bus.js.consumer_info(bus.stream_name, durable)
        if info.num_pending or info.num_ack_pending:
            return False
    return True
