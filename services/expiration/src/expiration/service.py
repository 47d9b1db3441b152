"""Scheduling an order's expiry and announcing it when due."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from arq.connections import ArqRedis
from bson import ObjectId
from pymongo.asynchronous.collection import AsyncCollection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from expiration.models import Expiry, ExpiryStatus
from tixcommon.bus import Publisher
from tixcommon.errors import ServiceUnavailable
from tixcommon.events import ExpirationComplete, OrderCreated

logger = logging.getLogger(__name__)

EXPIRE_JOB = "expire_order"


def at_or_after_whole_ms(moment: datetime) -> datetime:
    """The deadline as MongoDB and arq keep it (whole milliseconds), rounded up: truncating
    would fire up to a millisecond before the order's expiresAt."""
    if moment.microsecond % 1000:
        moment += timedelta(microseconds=1000 - moment.microsecond % 1000)
    return moment


def job_id(order_id: str) -> str:
    """One job per order: arq refuses a second job with the same id."""
    return f"expire:{order_id}"


@dataclass
class ExpiryScheduler:
    redis: ArqRedis
    queue_name: str

    async def schedule(self, order_id: str, expires_at: datetime) -> None:
        try:
            await self.redis.enqueue_job(
                EXPIRE_JOB,
                order_id,
                _job_id=job_id(order_id),
                _queue_name=self.queue_name,
                _defer_until=expires_at,
            )
        except (RedisConnectionError, RedisTimeoutError) as error:
            # An outage, not a bad event: the listener keeps it until Redis is back.
            raise ServiceUnavailable("Redis unavailable") from error

    async def record_and_schedule(self, event: OrderCreated) -> None:
        """Remember the order first, then set its timer: if we die in between, the worker's
        reconciliation sets the timer from the record."""
        await Expiry.get_pymongo_collection().update_one(
            {"_id": ObjectId(event.id)},
            {
                "$setOnInsert": {
                    "expires_at": at_or_after_whole_ms(event.expires_at),
                    "status": ExpiryStatus.SCHEDULED,
                }
            },
            upsert=True,
        )
        expiry = await Expiry.get(ObjectId(event.id))
        if expiry is not None and expiry.status is ExpiryStatus.SCHEDULED:
            await self.schedule(event.id, expiry.expires_at)


@dataclass
class Expirer:
    """The worker's side. It works on the `expiries` collection directly rather than through
    the document class, so the class stays bound to the HTTP side's client when both run in
    one process (as in tests)."""

    publisher: Publisher
    expiries: AsyncCollection[Any]

    async def expire(self, order_id: str) -> bool:
        """Announce `expiration.complete` for an order. False if it was announced before.

        Published straight from the job rather than through the outbox, because the job is
        already the durable record of the work: it lives in Redis (append-only) and in the
        Expiry document, and it is retried until it succeeds. The event id is derived from the
        order, so a job repeated after a crash between the publish and the update is dropped
        by the stream (and orders ignores an expiry it already applied). This keeps a burst of
        expiries at one publish and one update each, which is what keeps them on time."""
        expiry = await self.expiries.find_one({"_id": ObjectId(order_id)}, {"status": 1})
        if expiry is not None and expiry["status"] == ExpiryStatus.EXPIRED:
            return False
        await self.publisher.publish(
            ExpirationComplete(order_id=order_id), event_id=f"expiration:{order_id}"
        )
        await self.expiries.update_one(
            {"_id": ObjectId(order_id)},
            {"$set": {"status": ExpiryStatus.EXPIRED, "expired_at": datetime.now(UTC)}},
        )
        return True

    async def reconcile(self, scheduler: ExpiryScheduler) -> int:
        """Rebuild the timers of every order not yet expired (a no-op for timers Redis still
        has); what is already due is expired now rather than queued behind a lost timer."""
        now = datetime.now(UTC)
        restored = 0
        async for expiry in self.expiries.find({"status": ExpiryStatus.SCHEDULED}):
            order_id = str(expiry["_id"])
            if expiry["expires_at"] <= now:
                restored += await self.expire(order_id)
            else:
                await scheduler.schedule(order_id, expiry["expires_at"])
        return restored
