"""Counting failed attempts in the service's own database, so every replica shares the count
and a restart forgives nothing.

Fixed windows keyed by `<key>:<window number>`: one atomic upsert per failure, no read-modify-
write race, and old windows expire through a TTL index.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from tixcommon.errors import TooManyRequests


class AttemptLimiter:
    def __init__(
        self, collection: AsyncCollection[Any], *, limit: int, window_seconds: int
    ) -> None:
        self.collection = collection
        self.limit = limit
        self.window_seconds = window_seconds

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("expiresAt", expireAfterSeconds=0)

    def _window(self, now: float) -> tuple[int, int]:
        window = int(now // self.window_seconds)
        retry_after = int((window + 1) * self.window_seconds - now) + 1
        return window, retry_after

    async def check(self, *keys: str) -> None:
        """Refuse (429) if any key has used up its attempts in the current window."""
        window, retry_after = self._window(time.time())
        ids = [f"{key}:{window}" for key in keys]
        async for entry in self.collection.find({"_id": {"$in": ids}}):
            if entry["count"] >= self.limit:
                raise TooManyRequests(retry_after=retry_after)

    async def record_failure(self, *keys: str) -> None:
        now = time.time()
        window, _ = self._window(now)
        expires = datetime.fromtimestamp((window + 1) * self.window_seconds, UTC) + timedelta(
            seconds=self.window_seconds
        )
        for key in keys:
            await self.collection.find_one_and_update(
                {"_id": f"{key}:{window}"},
                {"$inc": {"count": 1}, "$setOnInsert": {"expiresAt": expires}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )

    async def reset(self, key: str) -> None:
        window, _ = self._window(time.time())
        await self.collection.delete_one({"_id": f"{key}:{window}"})
