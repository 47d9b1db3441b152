"""Counting failed attempts in the service's own database, so every replica shares the count
and a restart forgives nothing.

Fixed windows keyed by `<key>:<window number>`: one atomic upsert per failure, no read-modify-
write race, and old windows expire through a TTL index.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from tixcommon.errors import TooManyRequests
from tixcommon.metrics import RATE_LIMIT_REFUSALS


class AttemptLimiter:
    """Failures counted per key in fixed windows; each check names the keys it cares about and
    the limit of each (one sign-in: its email and its address), and costs one read."""

    def __init__(self, collection: AsyncCollection[Any], *, window_seconds: int) -> None:
        self.collection = collection
        self.window_seconds = window_seconds

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("expiresAt", expireAfterSeconds=0)

    def _window(self, now: float) -> tuple[int, int]:
        window = int(now // self.window_seconds)
        retry_after = int((window + 1) * self.window_seconds - now) + 1
        return window, retry_after

    async def check(self, limits: Mapping[str, int]) -> set[str]:
        """Refuse (429) if any key has used up its attempts in the current window; else the keys
        with failures in it (what a success has to forgive)."""
        window, retry_after = self._window(time.time())
        keys = {f"{key}:{window}": key for key in limits}
        failed = set()
        async for entry in self.collection.find({"_id": {"$in": list(keys)}}):
            key = keys[entry["_id"]]
            if entry["count"] >= limits[key]:
                RATE_LIMIT_REFUSALS.inc()
                raise TooManyRequests(retry_after=retry_after)
            failed.add(key)
        return failed

    async def record_failure(self, *keys: str) -> None:
        """One atomic upsert per key, sent together."""
        now = time.time()
        window, _ = self._window(now)
        expires = datetime.fromtimestamp((window + 1) * self.window_seconds, UTC) + timedelta(
            seconds=self.window_seconds
        )
        await self.collection.bulk_write(
            [
                UpdateOne(
                    {"_id": f"{key}:{window}"},
                    {"$inc": {"count": 1}, "$setOnInsert": {"expiresAt": expires}},
                    upsert=True,
                )
                for key in keys
            ],
            ordered=False,
        )

    async def reset(self, key: str) -> None:
        window, _ = self._window(time.time())
        await self.collection.delete_one({"_id": f"{key}:{window}"})
