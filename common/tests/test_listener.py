"""The listener's delivery policy, against a real nats-server and a real Mongo-wire server."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import nats.errors
import orjson
import pytest
from bson import ObjectId
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient
from pymongo.errors import ServerSelectionTimeoutError

from tixcommon.bus import (
    Delivery,
    DeliveryPolicy,
    EventBus,
    Listener,
    ListenerRunner,
    Outcome,
    Publisher,
)
from tixcommon.bus.deadletter import DeadLetters, MaxDeliveriesWatcher
from tixcommon.db import ApplyResult, ReplicaDocument, init_documents
from tixcommon.events import TicketCreated, TicketUpdated
from tixtest import stream_messages, wait_for_event, wait_until


class WidgetReplica(ReplicaDocument):
    title: str
    price: float

    class Settings:
        name = "widget_replicas"


class WidgetCreatedListener(Listener[TicketCreated]):
    event_type = TicketCreated

    def __init__(self) -> None:
        self.results: list[ApplyResult] = []

    async def handle(self, event: TicketCreated, delivery: Delivery) -> Outcome:
        result = await WidgetReplica.insert_replica(
            WidgetReplica(
                id=ObjectId(event.id), title=event.title, price=event.price, version=event.version
            )
        )
        self.results.append(result)
        return Outcome.of(result)


class WidgetUpdatedListener(Listener[TicketUpdated]):
    event_type = TicketUpdated

    def __init__(self) -> None:
        self.results: list[ApplyResult] = []

    async def handle(self, event: TicketUpdated, delivery: Delivery) -> Outcome:
        result = await WidgetReplica.apply_version(
            ObjectId(event.id), event.version, {"title": event.title, "price": event.price}
        )
        self.results.append(result)
        return Outcome.of(result)


class ScriptedListener(Listener[TicketCreated]):
    """Records every delivery; fails while `fail_when(attempt)` says so."""

    event_type = TicketCreated

    def __init__(self, fail_when: Callable[[int], bool] = lambda _: False) -> None:
        self.fail_when = fail_when
        self.attempts: list[tuple[str, int]] = []
        self.handled: Counter[str] = Counter()

    async def handle(self, event: TicketCreated, delivery: Delivery) -> None:
        self.attempts.append((event.id, delivery.attempt))
        if self.fail_when(delivery.attempt):
            raise RuntimeError(f"attempt {delivery.attempt} fails")
        self.handled[event.id] += 1


class OutageListener(ScriptedListener):
    """Meets a database outage on its first `outage_calls` calls, then works."""

    def __init__(self, outage_calls: int) -> None:
        super().__init__()
        self.outage_calls = outage_calls
        self.calls = 0

    async def handle(self, event: TicketCreated, delivery: Delivery) -> None:
        self.calls += 1
        if self.calls <= self.outage_calls:
            self.attempts.append((event.id, delivery.attempt))
            raise ServerSelectionTimeoutError("database unreachable")
        await super().handle(event, delivery)


POLICY = DeliveryPolicy(max_deliver=5, retry_base_seconds=0.02, retry_max_seconds=0.1)


def created(entity_id: str | None = None, title: str = "t") -> TicketCreated:
    return TicketCreated(
        id=entity_id or str(ObjectId()), version=0, title=title, price=10, user_id="b" * 24
    )


def updated(entity_id: str, version: int, title: str) -> TicketUpdated:
    return TicketUpdated(id=entity_id, version=version, title=title, price=10, user_id="b" * 24)


@pytest.fixture
async def replicas(mongo: AsyncMongoClient[Any], database_name: str) -> None:
    await init_documents(mongo, database_name, [WidgetReplica])


@pytest.fixture
async def run_listener(
    bus: EventBus,
) -> AsyncIterator[Callable[..., Any]]:
    runners: list[ListenerRunner] = []

    async def start(
        listener: Listener[Any], *, service: str = "svc", policy: DeliveryPolicy = POLICY
    ) -> ListenerRunner:
        runner = ListenerRunner(bus, listener, service=service, policy=policy)
        await runner.start()
        runners.append(runner)
        return runner

    yield start
    await asyncio.gather(*(runner.stop() for runner in runners))


async def test_failed_event_is_redelivered_until_it_succeeds(
    bus: EventBus, run_listener: Callable[..., Any]
) -> None:
    listener = ScriptedListener(fail_when=lambda attempt: attempt < 3)
    await run_listener(listener)
    event = created()

    await Publisher(bus).publish(event)

    await wait_until(lambda: listener.handled[event.id] == 1, message="handled once")
    assert listener.attempts == [(event.id, 1), (event.id, 2), (event.id, 3)]


async def test_duplicate_created_event_changes_nothing_the_second_time(
    bus: EventBus, run_listener: Callable[..., Any], replicas: None
) -> None:
    listener = WidgetCreatedListener()
    await run_listener(listener)
    event = created(title="first")

    # Two publishes with distinct ids get past JetStream's dedupe: the listener must cope.
    await Publisher(bus).publish(event)
    await Publisher(bus).publish(event.model_copy(update={"title": "second"}))

    await wait_until(lambda: len(listener.results) == 2, message="both delivered")
    assert listener.results == [ApplyResult.APPLIED, ApplyResult.ALREADY_APPLIED]
    replica = await WidgetReplica.get(ObjectId(event.id))
    assert replica is not None
    assert (replica.title, replica.version) == ("first", 0)


async def test_out_of_order_versions_are_applied_in_order(
    bus: EventBus, run_listener: Callable[..., Any], replicas: None
) -> None:
    entity = str(ObjectId())
    publisher = Publisher(bus)
    updates = WidgetUpdatedListener()
    await run_listener(updates)
    # Version 2 and 1 arrive before the record exists at all.
    await publisher.publish(updated(entity, 2, "v2"))
    await publisher.publish(updated(entity, 1, "v1"))
    await wait_until(lambda: ApplyResult.NOT_YET in updates.results, message="v2 deferred")

    await run_listener(WidgetCreatedListener())
    await publisher.publish(created(entity, title="v0"))

    async def at_version_two() -> bool:
        replica = await WidgetReplica.get(ObjectId(entity))
        return replica is not None and replica.version == 2

    await wait_until(at_version_two, message="replica at version 2")
    replica = await WidgetReplica.get(ObjectId(entity))
    assert replica is not None
    assert replica.title == "v2"


async def test_old_version_redelivered_is_acked_without_change(
    bus: EventBus, run_listener: Callable[..., Any], replicas: None
) -> None:
    entity = str(ObjectId())
    publisher = Publisher(bus)
    await run_listener(WidgetCreatedListener())
    updates = WidgetUpdatedListener()
    await run_listener(updates)
    await publisher.publish(created(entity))
    await publisher.publish(updated(entity, 1, "v1"))
    await publisher.publish(updated(entity, 2, "v2"))
    await wait_until(lambda: updates.results.count(ApplyResult.APPLIED) == 2, message="applied")

    await publisher.publish(updated(entity, 1, "stale v1"))

    await wait_until(
        lambda: ApplyResult.ALREADY_APPLIED in updates.results, message="stale event acked"
    )
    replica = await WidgetReplica.get(ObjectId(entity))
    assert replica is not None
    assert (replica.title, replica.version) == ("v2", 2)


async def test_poison_message_is_dead_lettered_after_max_deliver(
    bus: EventBus, run_listener: Callable[..., Any]
) -> None:
    listener = ScriptedListener(fail_when=lambda _: True)
    await run_listener(listener)
    event = created()
    healthy = created()

    await Publisher(bus).publish(event)

    dead = await wait_for_event(bus, "deadletter.ticket.created", lambda p: p["id"] == event.id)
    assert dead["title"] == event.title
    assert [attempt for _, attempt in listener.attempts] == [1, 2, 3, 4, 5]
    [message] = await stream_messages(bus, "deadletter.ticket.created")
    assert message.headers["Tix-Consumer"] == "svc-ticket-created"
    assert message.headers["Tix-Deliveries"] == "5"
    assert "attempt 5 fails" in message.headers["Tix-Reason"]
    # The stream is not blocked: the next event still gets through... and fails the same way,
    # which shows it was delivered.
    await Publisher(bus).publish(healthy)
    await wait_until(lambda: (healthy.id, 1) in listener.attempts, message="next delivered")


async def test_an_outage_longer_than_the_delivery_budget_sets_nothing_aside(
    bus: EventBus, run_listener: Callable[..., Any]
) -> None:
    # Twice as many failing tries as max_deliver allows deliveries: a poison event would be
    # set aside by now, but an unreachable database says nothing about the event.
    listener = OutageListener(outage_calls=2 * POLICY.max_deliver)
    await run_listener(listener)
    event = created()

    await Publisher(bus).publish(event)

    await wait_until(lambda: listener.handled[event.id] == 1, message="handled after the outage")
    assert len(listener.attempts) == 2 * POLICY.max_deliver + 1
    assert {attempt for _, attempt in listener.attempts} == {1}  # retried in hand
    assert await stream_messages(bus, "deadletter.ticket.created") == []


async def test_an_event_held_through_an_outage_stays_with_its_replica(
    bus: EventBus, run_listener: Callable[..., Any]
) -> None:
    # Held for several ack waits while another replica of the service is idle: kept in
    # progress, it is never handed to the other one, so it is applied once, by its holder.
    policy = DeliveryPolicy(max_deliver=3, ack_wait_seconds=0.6, retry_max_seconds=0.1)
    holder, other = OutageListener(outage_calls=40), ScriptedListener()
    await run_listener(holder, policy=policy)
    event = created()
    await Publisher(bus).publish(event)
    await wait_until(lambda: holder.calls >= 1, message="the holder has it")
    await run_listener(other, policy=policy)

    await wait_until(lambda: holder.handled[event.id] == 1, message="handled after the outage")
    assert other.attempts == []
    assert {attempt for _, attempt in holder.attempts} == {1}


async def test_an_event_out_of_redeliveries_still_waits_for_a_late_earlier_one(
    bus: EventBus, run_listener: Callable[..., Any], replicas: None
) -> None:
    # Version 1 uses up its two deliveries before version 0 arrives (as when the replica that
    # held version 0 crashed and it comes back only after the ack wait): it is kept in hand
    # and applied, not set aside.
    policy = DeliveryPolicy(max_deliver=2, ack_wait_seconds=2, retry_base_seconds=0.02)
    entity = str(ObjectId())
    updates = WidgetUpdatedListener()
    await run_listener(updates, policy=policy)
    await Publisher(bus).publish(updated(entity, 1, "v1"))
    await wait_until(lambda: updates.results.count(ApplyResult.NOT_YET) >= 3, message="held")

    await run_listener(WidgetCreatedListener(), policy=policy)
    await Publisher(bus).publish(created(entity, title="v0"))

    await wait_until(lambda: ApplyResult.APPLIED in updates.results, message="v1 applied")
    replica = await WidgetReplica.get(ObjectId(entity))
    assert replica is not None
    assert (replica.title, replica.version) == ("v1", 1)
    assert await stream_messages(bus, "deadletter.ticket.updated") == []


async def test_an_earlier_event_that_never_comes_ends_in_the_dead_letters(
    bus: EventBus, run_listener: Callable[..., Any], replicas: None
) -> None:
    policy = DeliveryPolicy(max_deliver=2, ack_wait_seconds=0.3, retry_base_seconds=0.02)
    await run_listener(WidgetUpdatedListener(), policy=policy)
    orphan = updated(str(ObjectId()), 1, "v1")

    await Publisher(bus).publish(orphan)

    await wait_for_event(bus, "deadletter.ticket.updated", lambda p: p["id"] == orphan.id)
    [letter] = await stream_messages(bus, "deadletter.ticket.updated")
    assert letter.headers["Tix-Reason"] == "waiting for an earlier version"


async def test_unparseable_payload_is_dead_lettered_at_once(
    bus: EventBus, run_listener: Callable[..., Any]
) -> None:
    listener = ScriptedListener()
    await run_listener(listener)

    await Publisher(bus).publish_raw(
        "ticket.created", orjson.dumps({"id": "nope"}), event_id="poison-1"
    )

    await wait_for_event(bus, "deadletter.ticket.created", lambda p: p == {"id": "nope"})
    [message] = await stream_messages(bus, "deadletter.ticket.created")
    assert message.headers["Tix-Deliveries"] == "1"
    assert message.headers["Tix-Reason"].startswith("invalid payload")
    assert listener.attempts == []


async def test_replicas_of_one_service_share_the_durable_consumer(
    bus: EventBus, run_listener: Callable[..., Any]
) -> None:
    first, second = ScriptedListener(), ScriptedListener()
    one_at_a_time = DeliveryPolicy(**{**POLICY.__dict__, "batch": 1})
    await run_listener(first, policy=one_at_a_time)
    await run_listener(second, policy=one_at_a_time)
    events = [created() for _ in range(40)]

    for event in events:
        await Publisher(bus).publish(event)

    def total() -> int:
        return sum(first.handled.values()) + sum(second.handled.values())

    await wait_until(lambda: total() == 40, message="all 40 handled")
    handled = first.handled + second.handled
    assert set(handled) == {event.id for event in events}
    assert max(handled.values()) == 1


async def test_other_services_each_get_every_event(
    bus: EventBus, run_listener: Callable[..., Any]
) -> None:
    tickets, payments = ScriptedListener(), ScriptedListener()
    await run_listener(tickets, service="tickets")
    await run_listener(payments, service="payments")
    event = created()

    await Publisher(bus).publish(event)

    await wait_until(
        lambda: tickets.handled[event.id] == 1 and payments.handled[event.id] == 1,
        message="both services handled it",
    )


async def test_events_published_while_a_service_is_down_wait_for_it(
    bus: EventBus, run_listener: Callable[..., Any]
) -> None:
    first = ScriptedListener()
    runner = await run_listener(first)
    await runner.stop()
    event = created()

    await Publisher(bus).publish(event)
    restarted = ScriptedListener()
    await run_listener(restarted)

    await wait_until(lambda: restarted.handled[event.id] == 1, message="delivered after restart")
    assert first.handled[event.id] == 0


async def test_consumer_configuration_is_reapplied_on_start(
    bus: EventBus, run_listener: Callable[..., Any]
) -> None:
    runner = await run_listener(ScriptedListener())
    await runner.stop()

    await run_listener(
        ScriptedListener(), policy=DeliveryPolicy(max_deliver=7, ack_wait_seconds=12)
    )

    info = await bus.js.consumer_info(bus.stream_name, "svc-ticket-created")
    assert info.config.max_deliver == 7
    assert info.config.ack_wait == 12


async def test_event_whose_last_delivery_got_no_answer_is_dead_lettered(bus: EventBus) -> None:
    # A replica that crashes mid-handler never acks nor naks; JetStream then gives up silently
    # but for an advisory, which the watcher every runner starts turns into a dead letter.
    policy = DeliveryPolicy(max_deliver=2, ack_wait_seconds=0.3)
    runner = ListenerRunner(bus, ScriptedListener(), service="svc", policy=policy)
    await bus.js.add_consumer(bus.stream_name, runner.consumer_config())
    watcher = MaxDeliveriesWatcher(
        bus, DeadLetters(bus, consumer=runner.durable, subject="ticket.created")
    )
    await watcher.start()
    crashing = await bus.js.pull_subscribe_bind(durable=runner.durable, stream=bus.stream_name)
    event = created()
    try:
        await Publisher(bus).publish(event)
        for _ in range(2):
            [message] = await crashing.fetch(1, timeout=5)  # delivered, never answered
            assert orjson.loads(message.data)["id"] == event.id
        # Replicas keep pulling; JetStream notices the exhausted message on the next pull.
        with pytest.raises(nats.errors.TimeoutError):
            await crashing.fetch(1, timeout=1)

        dead = await wait_for_event(bus, "deadletter.ticket.created", lambda p: p["id"] == event.id)
    finally:
        await crashing.unsubscribe()
        await watcher.stop()
    assert dead["title"] == event.title
    [letter] = await stream_messages(bus, "deadletter.ticket.created")
    assert letter.headers["Tix-Deliveries"] == "2"
    assert "no answer" in letter.headers["Tix-Reason"]


def handled(consumer: str, outcome: str) -> float:
    labels = {"consumer": consumer, "outcome": outcome}
    return REGISTRY.get_sample_value("tixvibe_events_handled_total", labels) or 0.0


async def test_every_delivery_is_counted_by_what_came_of_it(
    bus: EventBus, run_listener: Callable[..., Any], replicas: None
) -> None:
    replica = await run_listener(WidgetCreatedListener(), service="counted")
    poison = await run_listener(ScriptedListener(fail_when=lambda _: True), service="poisoned")
    held = await run_listener(OutageListener(outage_calls=2), service="held")
    event = created()

    await Publisher(bus).publish(event)
    await Publisher(bus).publish(event)  # a second publish, as a redelivery would be

    await wait_until(lambda: handled(replica.durable, "duplicate") == 1, message="duplicate")
    await wait_until(lambda: handled(poison.durable, "dead_lettered") == 2, message="set aside")
    await wait_until(lambda: handled(held.durable, "held") == 1, message="held, then applied")
    assert handled(replica.durable, "applied") == 1
    assert handled(poison.durable, "failed") == 2 * (POLICY.max_deliver - 1)
    assert handled(held.durable, "applied") == 1  # the second publish met no outage
    dead = REGISTRY.get_sample_value("tixvibe_dead_letters_total", {"subject": "ticket.created"})
    assert dead is not None
    assert dead >= 2  # one for each event the poisoned consumer was given
