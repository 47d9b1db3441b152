"""Safe retries of a POST, Stripe's way: the first answer to an `Idempotency-Key` is kept for a
day and given again to a retry of the same request by the same caller.

A route takes part by depending on `idempotency_key` (which also documents the header); the
service router then runs it through `IdempotencyStore`. The key is scoped to the caller and the
service. A retry with the same method, path and body gets the stored answer (with
`Idempotent-Replayed: true`); the same key on a different request is a 400 naming the header;
a request arriving while the first with its key is still running waits for that answer (409 if
it does not come in time), so concurrent requests with one key have one effect.

Only a success is kept: a refused request (4xx) or an outage (5xx) changed nothing, so its
retry runs again and may succeed. A claim whose request died with its process is taken over
once it is older than any request can run (`ABANDONED_AFTER`).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from tixcommon.errors import BadRequest, Conflict

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_MAX = 255
# Printable ASCII without spaces: what a UUID, a ULID or a random token is.
KEY_PATTERN = r"^[!-~]+$"
KEEP_FOR = timedelta(hours=24)
ABANDONED_AFTER = timedelta(minutes=2)
WAIT_FOR_FIRST_SECONDS = 10.0
_POLL_SECONDS = 0.05
COLLECTION = "idempotency_keys"

INVALID_KEY = f"{KEY_HEADER} must be 1 to {KEY_MAX} printable ASCII characters without spaces"
REUSED_KEY = f"{KEY_HEADER} was already used for a different request"
IN_PROGRESS = f"A request with this {KEY_HEADER} is still being processed: retry shortly"


async def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias=KEY_HEADER,
            min_length=1,
            max_length=KEY_MAX,
            pattern=KEY_PATTERN,
            description=(
                "Makes the request safe to retry: the first success for a key is kept for "
                "24 hours and answered again to a retry with the same body."
            ),
        ),
    ] = None,
) -> str | None:
    """The route accepts `Idempotency-Key` (a marker for the service router, and the header's
    documentation)."""
    return key


# `dependencies=[RETRY_SAFE]` on a route: it accepts `Idempotency-Key`.
RETRY_SAFE = Depends(idempotency_key)


def valid_key(key: str) -> str:
    if not 1 <= len(key) <= KEY_MAX or re.fullmatch(KEY_PATTERN, key) is None:
        raise BadRequest(INVALID_KEY, field=KEY_HEADER)
    return key


def fingerprint(request: Request, body: bytes) -> str:
    """What makes two requests the same one: method, path and body."""
    digest = hashlib.sha256(f"{request.method} {request.url.path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: bytes
    media_type: str | None

    def response(self) -> Response:
        replay = Response(self.body, status_code=self.status_code, media_type=self.media_type)
        replay.headers[REPLAYED_HEADER] = "true"
        return replay


class IdempotencyStore:
    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self.keys = database[COLLECTION]

    async def create_indexes(self) -> None:
        # The database forgets a key after a day; claim() never trusts an older one meanwhile.
        await self.keys.create_index(
            "at", expireAfterSeconds=int(KEEP_FOR.total_seconds()), name="forget_after_a_day"
        )

    async def claim(self, key_id: str, request_fingerprint: str) -> StoredAnswer | None:
        """None when this request is the first with its key (it runs, then `keep` or
        `release`); the first's answer otherwise."""
        deadline = time.monotonic() + WAIT_FOR_FIRST_SECONDS
        while True:
            now = datetime.now(UTC)
            claim = {
                "_id": key_id,
                "fingerprint": request_fingerprint,
                "state": "pending",
                "at": now,
            }
            try:
                await self.keys.insert_one(claim)
                return None
            except DuplicateKeyError:
                pass
            found = await self.keys.find_one({"_id": key_id})
            if found is None:
                continue  # released meanwhile: try again
            at = _aware(found["at"])
            stale = now - at > (ABANDONED_AFTER if found["state"] == "pending" else KEEP_FOR)
            if stale:
                await self.keys.delete_one({"_id": key_id, "at": found["at"]})
                continue
            if found["fingerprint"] != request_fingerprint:
                raise BadRequest(REUSED_KEY, field=KEY_HEADER)
            if found["state"] == "done":
                return StoredAnswer(found["status"], found["body"], found.get("media_type"))
            if time.monotonic() >= deadline:
                raise Conflict(IN_PROGRESS, field=KEY_HEADER)
            await asyncio.sleep(_POLL_SECONDS)  # the first request is running: its answer comes

    async def keep(self, key_id: str, response: Response) -> None:
        await self.keys.update_one(
            {"_id": key_id},
            {
                "$set": {
                    "state": "done",
                    "status": response.status_code,
                    "body": bytes(response.body),
                    "media_type": response.media_type,
                }
            },
        )

    async def release(self, key_id: str) -> None:
        await self.keys.delete_one({"_id": key_id, "state": "pending"})


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
