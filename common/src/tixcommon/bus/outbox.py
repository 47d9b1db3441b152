"""The transactional outbox: a state change and the events it causes are one atomic write, and a
relay publishes stored events until JetStream acknowledges them.

A crash anywhere loses nothing: before the commit nothing happened; after it, the event is in
the outbox and the relay (this process after a restart, or any other replica) publishes it. A
crash between JetStream's ack and the outbox delete makes the relay publish it again under the
same `Nats-Msg-Id`, which the stream drops as a duplicate, so it is delivered once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from bson import ObjectId
from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection

from tixcommon.bus.publisher import Publisher
from tixcommon.events import Event
from tixcommon.logging import current_request_id
from tixcommon.metrics import OUTBOX_ENTRIES, OUTBOX_OLDEST_AGE
from tixcommon.tracing import trace_headers

logger = logging.getLogger(__name__)

OUTBOX_COLLECTION = "outbox"
T = TypeVar("T")


@dataclass
class Transaction:
    """What one unit of work writes: documents through `session`, events through `publish`."""

    session: AsyncClientSession
    events: list[Event] = field(default_factory=list)

    def publish(self, event: Event) -> None:
        """Stored with the state change; sent after the commit."""
        self.events.append(event)


class Outbox:
    def __init__(
        self,
        client: AsyncMongoClient[Any],
        collection: AsyncCollection[Any],
        on_commit: Callable[[list[OutboxEntry]], None] = lambda entries: None,
    ) -> None:
        self.client = client
        self.collection = collection
        self._on_commit = on_commit

    async def run(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        """Run `work` in a transaction (retried by the driver on transient conflicts) and store
        the events it published in the same transaction."""

        stored: list[OutboxEntry] = []

        async def attempt(session: AsyncClientSession) -> T:
            transaction = Transaction(session)
            result = await work(transaction)
            stored[:] = [outbox_entry(event) for event in transaction.events]
            if stored:
                # insert_many adds nothing to the entries: they have their _id already.
                await self.collection.insert_many(stored, session=session)
            return result

        async with self.client.start_session() as session:
            result = await session.with_transaction(attempt)
        if stored:
            self._on_commit(stored)
        return result

    async def sample_depth(self) -> None:
        """How many entries wait, and for how long the oldest has, into the metrics."""
        OUTBOX_ENTRIES.set(await self.collection.estimated_document_count())
        oldest = await self.collection.find_one({}, sort=[("_id", ASCENDING)])
        if oldest is None:
            OUTBOX_OLDEST_AGE.set(0)
            return
        waited = datetime.now(UTC) - _aware(oldest["createdAt"])
        OUTBOX_OLDEST_AGE.set(max(waited.total_seconds(), 0.0))


OutboxEntry = dict[str, Any]


def outbox_entry(event: Event) -> OutboxEntry:
    entry: OutboxEntry = {
        "_id": ObjectId(),  # also the event id (Nats-Msg-Id); ObjectIds sort by creation
        "subject": event.subject.value,
        "data": event.to_bytes(),
        "requestId": current_request_id(),
        "createdAt": datetime.now(UTC),
    }
    # Only when something is traced: untraced, an entry is stored as it always was.
    if trace := trace_headers():
        entry["trace"] = trace
    return entry


class OutboxRelay:
    """Publishes outbox entries in the order they were written, deleting each once acked.

    Entries committed in this process are handed over as they commit and published without
    being read back; the outbox is read for the rest (another replica's, or a failed hand-over's,
    or a crashed process's) at start, every `poll_seconds`, and after any failure.

    The deletes of what was handed over wait until no entry has come for `delete_after` seconds
    (or a batch of them is due): the moment after a publish is when its consumers write to the
    same database, and one delete for a run of entries costs what one entry's did. A crash before
    the delete only publishes the entry again, which the stream drops by its id."""

    def __init__(
        self,
        collection: AsyncCollection[Any],
        publisher: Publisher,
        *,
        poll_seconds: float = 1.0,
        batch: int = 100,
        delete_after: float = 0.02,
    ) -> None:
        self.collection = collection
        self.publisher = publisher
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.delete_after = delete_after
        self._acked: list[ObjectId] = []  # published, to be deleted
        self._wakeup = asyncio.Event()
        self._handed_over: list[OutboxEntry] = []
        self._stopping = False
        self._waiting = False
        self._task: asyncio.Task[None] | None = None

    def idle(self) -> bool:
        """Waiting for entries, the outbox read: what a test waits for before it writes."""
        return self._waiting

    def hand_over(self, entries: list[OutboxEntry]) -> None:
        """These entries were just committed: publish them now, without reading them back."""
        self._handed_over.extend(entries)
        self._wakeup.set()

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        # Flagged as well as cancelled: on Python 3.11 asyncio.wait_for can lose a cancel that
        # lands as a database read completes (see tixcommon.periodic).
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        # What was published need not be again at the next start (it would only be dropped).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._delete_quietly(), 1.0)

    async def _run(self) -> None:
        failures, read = 0, True  # at start: whatever an earlier process left
        while not self._stopping:
            self._waiting = False
            self._wakeup.clear()
            handed_over, self._handed_over = self._handed_over, []
            try:
                if read:
                    await self.drain()  # which publishes what was handed over, too
                elif handed_over:
                    await self._publish(sorted(handed_over, key=lambda entry: entry["_id"]))
                    if len(self._acked) >= self.batch:
                        await self._delete_acked()
            except Exception as error:  # noqa: BLE001 - the relay must outlive any failure
                # NATS or the database is down: the entries stay in the outbox, to be read
                # back from it after a backoff.
                failures, read = failures + 1, True
                delay = min(0.1 * 2**failures, 5.0)
                logger.warning("outbox relay failed", extra={"error": repr(error)})
            else:
                failures, read = 0, False
                delay = self.delete_after if self._acked else self.poll_seconds
                if self._handed_over:
                    continue
            self._waiting = not read
            try:
                await asyncio.wait_for(self._wakeup.wait(), delay)
            except TimeoutError:
                if self._acked and not failures:
                    await self._delete_quietly()
                else:
                    read = True  # the periodic look at the outbox

    async def _delete_acked(self) -> None:
        if not self._acked:
            return
        acked, self._acked = self._acked, []
        try:
            await self.collection.delete_many({"_id": {"$in": acked}})
        except BaseException:
            self._acked[:0] = acked  # still published: deleted on the next try
            raise

    async def _delete_quietly(self) -> None:
        """Delete what was published; on a failure they stay, published again at the next read
        (and dropped by the stream as duplicates)."""
        if not self._acked:
            return
        try:
            await self._delete_acked()
        except Exception as error:  # noqa: BLE001 - the relay must outlive any failure
            logger.warning("outbox delete failed", extra={"error": repr(error)})

    async def drain(self) -> int:
        """Publish everything in the outbox, a batch at a time, in the order it was written."""
        published = 0
        await self._delete_acked()  # not to read back what was published already
        while True:
            entries = await self.collection.find(
                {}, sort=[("_id", ASCENDING)], limit=self.batch
            ).to_list()
            if not entries:
                return published
            published += await self._publish(entries)
            await self._delete_acked()

    async def _publish(self, entries: list[OutboxEntry]) -> int:
        """Publish `entries` in order and delete the acked ones; raise on the first failure."""
        for start in range(0, len(entries), self.batch):
            await self._publish_batch(entries[start : start + self.batch])
        return len(entries)

    async def _publish_batch(self, entries: list[OutboxEntry]) -> None:
        """A batch's publishes are in flight together (one connection keeps their order), then
        the acked ones are marked for deletion; on a failure the rest stay, to be published again
        in order (duplicates are dropped by their ids)."""
        results = await asyncio.gather(
            *(
                self.publisher.publish_raw(
                    entry["subject"],
                    bytes(entry["data"]),
                    event_id=str(entry["_id"]),
                    request_id=entry.get("requestId"),
                    # The trace of the change that caused it, however late it is published.
                    trace=entry.get("trace", {}),
                )
                for entry in entries
            ),
            return_exceptions=True,
        )
        acked = []
        for entry, result in zip(entries, results, strict=True):
            if isinstance(result, BaseException):
                break  # keep order: nothing after a failure counts as done
            acked.append(entry["_id"])
        self._acked.extend(acked)
        failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is not None:
            raise failure


def _aware(moment: datetime) -> datetime:
    """A stored time as UTC (the driver returns naive datetimes unless told otherwise)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
