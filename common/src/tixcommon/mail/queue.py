"""The mail queue: a service's outgoing mail, stored in its own database in the transaction of
the change that causes it, so a mail is queued exactly when the change commits.

A queued mail is what to send, never the message: `kind`, the address and a few parameters.
The relay renders the message when it sends it (tixcommon.mail.relay), so attachments are made
then and never stored, and a secret (a reset link's token) is derived then from what is stored
instead of being stored itself.

    {_id, key, kind, to, params, status: queued | sent, attempts, nextAttemptAt, claim,
     createdAt, sentAt, lastError}

`key` names the mail's cause ("order-complete:<orderId>") and is unique: queuing the same key
again (an event redelivered, a request retried) queues nothing. A sent mail stays, as the record
that its key was mailed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from bson import ObjectId
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection

from tixcommon.bus.outbox import Transaction
from tixcommon.mail.metrics import MAIL_OLDEST_AGE, MAIL_QUEUED

MAIL_COLLECTION = "mail"
QUEUED, SENT = "queued", "sent"
# Parameters name things (an order id, a reset id); a message's content is made at send time.
MAX_PARAMS_BYTES = 4096
_MAX_ERROR_CHARS = 500

QueuedMail = dict[str, Any]


class MailQueue:
    def __init__(self, collection: AsyncCollection[Any]) -> None:
        self.collection = collection

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("key", ASCENDING)], unique=True)
        await self.collection.create_index([("status", ASCENDING), ("nextAttemptAt", ASCENDING)])

    async def queue_mail(
        self,
        within: Transaction | AsyncClientSession,
        *,
        key: str,
        kind: str,
        to: str,
        params: Mapping[str, Any],
    ) -> bool:
        """Queue a mail in the unit of work's transaction; False when `key` was queued before
        (by this transaction or an earlier one), which changes nothing.

        An upsert on the unique key rather than an insert: inside a transaction a duplicate-key
        error would abort the whole transaction, and a duplicate is not an error here."""
        if not key or not kind:
            raise ValueError("a mail needs a key and a kind")
        if "@" not in to or any(c in to for c in "\r\n<>,"):
            raise ValueError(f"not one email address: {to!r}")
        encoded = orjson.dumps(dict(params))
        if len(encoded) > MAX_PARAMS_BYTES:
            raise ValueError(f"a mail's params are at most {MAX_PARAMS_BYTES} bytes of JSON")
        session = within.session if isinstance(within, Transaction) else within
        now = datetime.now(UTC)
        result = await self.collection.update_one(
            {"key": key},
            {
                "$setOnInsert": {
                    "_id": ObjectId(),
                    "kind": kind,
                    "to": to,
                    "params": orjson.loads(encoded),  # what JSON keeps, as the renderer gets it
                    "status": QUEUED,
                    "attempts": 0,
                    "nextAttemptAt": now,
                    "claim": None,
                    "createdAt": now,
                    "sentAt": None,
                    "lastError": None,
                }
            },
            upsert=True,
            session=session,
        )
        return result.upserted_id is not None

    async def claim(self, kinds: Iterable[str], lease: timedelta) -> QueuedMail | None:
        """The longest-due mail of one of `kinds`, claimed for `lease`: one atomic write, so of
        several relays exactly one claims it. The claim moves `nextAttemptAt` past the lease,
        which makes a mail whose relay died due again when the lease runs out."""
        now = datetime.now(UTC)
        claimed: QueuedMail | None = await self.collection.find_one_and_update(
            {"status": QUEUED, "nextAttemptAt": {"$lte": now}, "kind": {"$in": list(kinds)}},
            {"$set": {"nextAttemptAt": now + lease, "claim": ObjectId()}, "$inc": {"attempts": 1}},
            sort=[("nextAttemptAt", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )
        return claimed

    async def mark_sent(self, mail: QueuedMail) -> None:
        """Whoever holds the claim now: the relay accepted the message, so it is sent."""
        await self.collection.update_one(
            {"_id": mail["_id"], "status": QUEUED},
            {"$set": {"status": SENT, "sentAt": datetime.now(UTC), "lastError": None}},
        )

    async def mark_failed(self, mail: QueuedMail, error: BaseException, retry_in: float) -> None:
        """Due again in `retry_in` seconds, unless another relay claimed it since (its lease
        ran out under this attempt): then that relay's attempt decides."""
        await self.collection.update_one(
            {"_id": mail["_id"], "status": QUEUED, "claim": mail["claim"]},
            {
                "$set": {
                    "nextAttemptAt": datetime.now(UTC) + timedelta(seconds=retry_in),
                    "lastError": describe_error(error),
                }
            },
        )

    async def sample_depth(self) -> None:
        """How many mails wait, and for how long the oldest has, into the metrics."""
        waiting = {"status": QUEUED}
        MAIL_QUEUED.set(await self.collection.count_documents(waiting))
        oldest = await self.collection.find_one(waiting, sort=[("createdAt", ASCENDING)])
        if oldest is None:
            MAIL_OLDEST_AGE.set(0)
            return
        waited = datetime.now(UTC) - _aware(oldest["createdAt"])
        MAIL_OLDEST_AGE.set(max(waited.total_seconds(), 0.0))


def describe_error(error: BaseException) -> str:
    """What is kept of a failure: its type and message (an SMTP reply, a refused connection).
    No message part or credential is in either: aiosmtplib's errors carry the server's reply,
    and renderers must raise errors that name what failed, not what they were rendering."""
    text = f"{type(error).__name__}: {error}".strip().removesuffix(":")
    return text[:_MAX_ERROR_CHARS]


def _aware(moment: datetime) -> datetime:
    """A stored time as UTC (a client not told tz_aware returns naive datetimes)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
