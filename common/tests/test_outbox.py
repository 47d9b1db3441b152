"""No event is lost or doubled between a database write and its publish."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from bson import ObjectId
from demo_service import Gadget
from pymongo import AsyncMongoClient

from tixcommon.bus import EventBus, Outbox, OutboxRelay, Publisher, Transaction
from tixcommon.bus.outbox import OUTBOX_COLLECTION
from tixcommon.db import init_documents
from tixcommon.events import TicketCreated
from tixtest import NatsServer, SignedInUser, stream_messages, wait_for_event, wait_until


def ticket_created(title: str) -> TicketCreated:
    return TicketCreated(id=str(ObjectId()), version=0, title=title, price=5, user_id="c" * 24)


@pytest.fixture
async def outbox(mongo: AsyncMongoClient[Any], database_name: str) -> Outbox:
    await init_documents(mongo, database_name, [Gadget])
    return Outbox(mongo, mongo[database_name][OUTBOX_COLLECTION])


async def write_gadget(outbox: Outbox, title: str) -> TicketCreated:
    event = ticket_created(title)

    async def work(tx: Transaction) -> None:
        await Gadget(id=ObjectId(event.id), title=title).insert(session=tx.session)
        tx.publish(event)

    await outbox.run(work)
    return event


async def test_event_written_while_the_publisher_was_down_is_delivered_once_after_restart(
    bus: EventBus, outbox: Outbox
) -> None:
    # The process "dies" after the commit: no relay ran.
    event = await write_gadget(outbox, "kept")
    assert await stream_messages(bus, "ticket.created") == []
    assert await outbox.collection.count_documents({}) == 1

    # A new process starts its relay.
    relay = OutboxRelay(outbox.collection, Publisher(bus), poll_seconds=0.05)
    relay.start()
    try:
        await wait_for_event(bus, "ticket.created", lambda p: p["id"] == event.id)
        await wait_until(lambda: _outbox_empty(outbox), message="outbox drained")
    finally:
        await relay.stop()
    assert len(await stream_messages(bus, "ticket.created")) == 1


async def test_crash_between_publish_and_outbox_delete_still_delivers_once(
    bus: EventBus, outbox: Outbox
) -> None:
    event = await write_gadget(outbox, "published then crashed")
    entry = await outbox.collection.find_one({})
    assert entry is not None
    # What the relay had done before dying: JetStream has it, the outbox still lists it.
    await Publisher(bus).publish_raw(
        entry["subject"], bytes(entry["data"]), event_id=str(entry["_id"])
    )

    published = await OutboxRelay(outbox.collection, Publisher(bus)).drain()

    assert published == 1
    messages = await stream_messages(bus, "ticket.created")
    assert len(messages) == 1
    assert messages[0].headers["Nats-Msg-Id"] == str(entry["_id"])
    assert await Gadget.get(ObjectId(event.id)) is not None


async def test_failed_unit_of_work_stores_neither_state_nor_event(outbox: Outbox) -> None:
    class Refused(Exception):
        pass

    async def work(tx: Transaction) -> None:
        await Gadget(title="never").insert(session=tx.session)
        tx.publish(ticket_created("never"))
        raise Refused

    with pytest.raises(Refused):
        await outbox.run(work)

    assert await Gadget.find_all().count() == 0
    assert await outbox.collection.count_documents({}) == 0


async def test_relay_keeps_events_while_broker_is_down_and_delivers_them_in_order(
    outbox: Outbox, test_id: str
) -> None:
    with NatsServer() as broker:
        bus = await EventBus.connect(broker.url, client_name="relay-test", namespace=f"r{test_id}")
        await bus.ensure_stream()
        # A poll far away: only the hand-over's failure sends the relay back to the outbox.
        relay = OutboxRelay(outbox.collection, Publisher(bus), poll_seconds=60)
        handing_over = Outbox(outbox.client, outbox.collection, on_commit=relay.hand_over)
        relay.start()
        try:
            broker.kill()
            events = [await write_gadget(handing_over, f"during outage {n}") for n in range(3)]
            assert await outbox.collection.count_documents({}) == 3

            broker.start()
            await wait_until(lambda: _outbox_empty(outbox), timeout=20, message="outbox drained")
            messages = await stream_messages(bus, "ticket.created")
        finally:
            await relay.stop()
            await bus.close()
    assert [orjson.loads(m.data)["id"] for m in messages] == [e.id for e in events]


async def test_committed_events_are_handed_to_the_relay_and_published_in_order_at_once(
    bus: EventBus, outbox: Outbox
) -> None:
    relay = OutboxRelay(outbox.collection, Publisher(bus), poll_seconds=60)
    handing_over = Outbox(outbox.client, outbox.collection, on_commit=relay.hand_over)
    relay.start()
    try:
        await wait_until(lambda: _outbox_empty(outbox), message="the first read done")
        events = [await write_gadget(handing_over, f"handed over {n}") for n in range(5)]

        # Within the test's deadline, far sooner than the minute-long poll.
        await wait_until(lambda: _published(bus, len(events)), message="all published")
        await wait_until(lambda: _outbox_empty(outbox), message="outbox emptied")
    finally:
        await relay.stop()
    messages = await stream_messages(bus, "ticket.created")
    assert [orjson.loads(m.data)["id"] for m in messages] == [e.id for e in events]


async def test_published_entries_are_deleted_together_once_the_relay_goes_quiet(
    bus: EventBus, outbox: Outbox
) -> None:
    # Quiet only after a minute: the deletes wait, and stopping does them.
    relay = OutboxRelay(outbox.collection, Publisher(bus), poll_seconds=60, delete_after=60)
    handing_over = Outbox(outbox.client, outbox.collection, on_commit=relay.hand_over)
    relay.start()
    try:
        await wait_until(relay.idle, message="the first read done")
        events = [await write_gadget(handing_over, f"handed over {n}") for n in range(3)]
        await wait_until(lambda: _published(bus, len(events)), message="all published")

        assert await outbox.collection.count_documents({}) == 3  # published, not yet deleted
        # A read of the outbox meanwhile deletes them first rather than publish them again.
        assert await relay.drain() == 0
        assert await _outbox_empty(outbox)
        await write_gadget(handing_over, "one more")
        await wait_until(lambda: _published(bus, len(events) + 1), message="one more published")
    finally:
        await relay.stop()
    assert await _outbox_empty(outbox)
    assert len(await stream_messages(bus, "ticket.created")) == len(events) + 1


async def test_request_id_travels_with_the_event(
    demo: httpx.AsyncClient, bus: EventBus, make_user: Any
) -> None:
    user: SignedInUser = make_user()

    response = await demo.post(
        "/api/demo/gadgets",
        json={"title": "traced", "price": 3},
        headers={**user.headers, "X-Request-Id": "trace-me-42"},
    )

    assert response.status_code == 201
    payload = await wait_for_event(
        bus, "ticket.created", lambda p: p["id"] == response.json()["id"]
    )
    assert payload["userId"] == user.id
    [message] = await stream_messages(bus, "ticket.created")
    assert message.headers["X-Request-Id"] == "trace-me-42"


async def _published(bus: EventBus, count: int) -> bool:
    return len(await stream_messages(bus, "ticket.created")) >= count


async def _outbox_empty(outbox: Outbox) -> bool:
    return await outbox.collection.count_documents({}) == 0
