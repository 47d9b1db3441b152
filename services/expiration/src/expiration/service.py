"""Scheduling an order's expiry and announcing it when due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from arq.connections import ArqRedis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from expiration.redis import scheduled_channel
from expiration.repository import ExpiryRepository
from tixcommon.bus import Outcome, Publisher
from tixcommon.errors import ServiceUnavailable
from tixcommon.events import ExpirationComplete, OrderCreated
from tixcommon.tracing import trace_headers

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
    expiries: ExpiryRepository

    async def schedule(self, order_id: str, expires_at: datetime) -> None:
        try:
            await self.redis.enqueue_job(
                EXPIRE_JOB,
                order_id,
                # The order's trace, for the expiry to join when it fires.
                trace_headers(),
                _job_id=job_id(order_id),
                _queue_name=self.queue_name,
                _defer_until=expires_at,
            )
            await self.redis.publish(scheduled_channel(self.queue_name), order_id)
        except (RedisConnectionError, RedisTimeoutError) as error:
            # An outage, not a bad event: the listener keeps it until Redis is back.
            raise ServiceUnavailable("Redis unavailable") from error

    async def record_and_schedule(self, event: OrderCreated) -> Outcome:
        """Remember the order first, then set its timer: if we die in between, the worker's
        reconciliation sets the timer from the record."""
        due = await self.expiries.record(event.id, at_or_after_whole_ms(event.expires_at))
        if due is not None:
            await self.schedule(due.order_id, due.expires_at)
        return Outcome.ACK


@dataclass
class Expirer:
    """The worker's side: announces what is due."""

    publisher: Publisher
    expiries: ExpiryRepository

    async def expire(self, order_id: str) -> bool:
        """Announce `expiration.complete` for an order. False if it was announced before.

        Published straight from the job rather than through the outbox, because the job is
        already the durable record of the work: it lives in Redis (append-only) and in the
        Expiry document, and it is retried until it succeeds. The event id is derived from the
        order, so a job repeated after a crash between the publish and the update is dropped
        by the stream (and orders ignores an expiry it already applied). This keeps a burst of
        expiries at one publish and one update each, which is what keeps them on time."""
        if await self.expiries.expired(order_id):
            return False
        await self.publisher.publish(
            ExpirationComplete(order_id=order_id), event_id=f"expiration:{order_id}"
        )
        await self.expiries.mark_expired(order_id)
        return True

    async def reconcile(self, scheduler: ExpiryScheduler) -> int:
        """Rebuild the timers of every order not yet expired (a no-op for timers Redis still
        has); what is already due is expired now rather than queued behind a lost timer."""
        now = datetime.now(UTC)
        restored = 0
        async for due in self.expiries.scheduled():
            if due.expires_at <= now:
                restored += await self.expire(due.order_id)
            else:
                await scheduler.schedule(due.order_id, due.expires_at)
        return restored
