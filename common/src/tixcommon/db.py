"""MongoDB: the client, document registration, ids, and versioned records.

Versions follow the events contract: the owner bumps `version` by exactly 1 per change with a
compare-and-set (beanie's revision id is a random token and cannot express "the next one"), and
a replica applies a change only when it is exactly the next version.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Self, TypeVar

from beanie import Document, PydanticObjectId, init_beanie
from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession

from tixcommon.errors import BadRequest
from tixcommon.fields import is_object_id

T = TypeVar("T")


class VersionConflict(Exception):
    """Someone else changed the record first; reload and decide again."""


def mongo_client(uri: str, *, app_name: str, timeout_ms: int) -> AsyncMongoClient[Any]:
    return AsyncMongoClient(
        uri,
        tz_aware=True,
        appname=app_name,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        uuidRepresentation="standard",
    )


async def init_documents(
    client: AsyncMongoClient[Any], database: str, models: Sequence[type[Document]]
) -> None:
    """Bind the document classes to the database and create their indexes."""
    await init_beanie(database=client[database], document_models=list(models))


def parse_object_id(value: str, field: str = "id") -> PydanticObjectId:
    """A path or body id, or the contract's 400 naming the field."""
    if not is_object_id(value):
        raise BadRequest(f"{field} must be a valid id", field=field)
    return PydanticObjectId(value)


class VersionedDocument(Document):
    """A record owned by this service: every change bumps `version` by exactly one."""

    version: int = 0

    async def compare_and_set(
        self, changes: Mapping[str, Any], *, session: AsyncClientSession | None = None
    ) -> Self:
        """Write `changes` as the next version, only if nobody changed the record since this
        copy was read. Returns the new version; this copy is left as it was, so a transaction
        the driver retries can call this again on the same copy."""
        result = await self.get_pymongo_collection().update_one(
            {"_id": self.id, "version": self.version},
            {"$set": {**changes, "version": self.version + 1}},
            session=session,
        )
        if result.matched_count != 1:
            raise VersionConflict(
                f"{type(self).__name__} {self.id} changed since version {self.version}"
            )
        changed: Self = self.model_copy(update={**changes, "version": self.version + 1})
        return changed


async def retry_on_conflict(attempt: Callable[[], Awaitable[T]], *, attempts: int = 20) -> T:
    """Run a read-decide-write step again when a concurrent writer got there first: each try
    reloads, so its decision is made on the current state."""
    for _ in range(attempts - 1):
        try:
            return await attempt()
        except VersionConflict:
            continue
    return await attempt()


class ApplyResult(enum.Enum):
    APPLIED = "applied"
    ALREADY_APPLIED = "already_applied"  # a redelivery or duplicate: ack, change nothing
    NOT_YET = "not_yet"  # an earlier version is still on its way: retry later


class ReplicaDocument(Document):
    """A local copy of another service's record, fed by its events under the version rule."""

    version: int = 0

    @classmethod
    async def insert_replica(
        cls, record: Self, *, session: AsyncClientSession | None = None
    ) -> ApplyResult:
        """Apply a `*.created` event: a record that already exists makes it a duplicate.

        An upsert rather than an insert: inside a transaction a duplicate-key error would abort
        the whole transaction, and a duplicate is not an error here."""
        fields = record.model_dump(by_alias=True, exclude={"revision_id"})
        result = await cls.get_pymongo_collection().update_one(
            {"_id": fields.pop("_id")}, {"$setOnInsert": fields}, upsert=True, session=session
        )
        return (
            ApplyResult.APPLIED if result.upserted_id is not None else ApplyResult.ALREADY_APPLIED
        )

    @classmethod
    async def apply_version(
        cls,
        record_id: ObjectId,
        version: int,
        changes: Mapping[str, Any],
        *,
        increments: Mapping[str, int] | None = None,
        session: AsyncClientSession | None = None,
    ) -> ApplyResult:
        """Apply a change only if it is exactly the next version of the record; `increments`
        are added to fields of the replica's own (computed from the previous version)."""
        update: dict[str, Any] = {"$set": {**changes, "version": version}}
        if increments:
            update["$inc"] = dict(increments)
        collection = cls.get_pymongo_collection()
        result = await collection.update_one(
            {"_id": record_id, "version": version - 1}, update, session=session
        )
        if result.matched_count == 1:
            return ApplyResult.APPLIED
        current = await collection.find_one({"_id": record_id}, {"version": 1}, session=session)
        if current is not None and current["version"] >= version:
            return ApplyResult.ALREADY_APPLIED
        return ApplyResult.NOT_YET
