"""The expiration service's data: the orders it has heard of and whether each has expired.

Works on the `expiries` collection it is given rather than through the document class, so the
worker (which binds no document classes: the HTTP side owns them and their indexes) and the
HTTP side share it, in one process or two."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from expiration.models import ExpiryStatus


@dataclass(frozen=True)
class Due:
    order_id: str
    expires_at: datetime


@dataclass
class ExpiryRepository:
    expiries: AsyncCollection[Any]

    async def record(self, order_id: str, expires_at: datetime) -> Due | None:
        """Remember an order's deadline, once (a redelivery changes nothing): the deadline
        recorded first, or None if the order has expired already."""
        stored = await self.expiries.find_one_and_update(
            {"_id": ObjectId(order_id)},
            {"$setOnInsert": {"expires_at": expires_at, "status": ExpiryStatus.SCHEDULED}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            projection={"status": 1, "expires_at": 1},
        )
        if stored is None or stored["status"] != ExpiryStatus.SCHEDULED:
            return None
        return Due(order_id, stored["expires_at"])

    async def expired(self, order_id: str) -> bool:
        stored = await self.expiries.find_one({"_id": ObjectId(order_id)}, {"status": 1})
        return stored is not None and stored["status"] == ExpiryStatus.EXPIRED

    async def mark_expired(self, order_id: str) -> None:
        await self.expiries.update_one(
            {"_id": ObjectId(order_id)},
            {"$set": {"status": ExpiryStatus.EXPIRED, "expired_at": datetime.now(UTC)}},
        )

    async def scheduled(self) -> AsyncIterator[Due]:
        """Every order not yet expired."""
        async for expiry in self.expiries.find({"status": ExpiryStatus.SCHEDULED}):
            yield Due(str(expiry["_id"]), expiry["expires_at"])
