"""The event envelope: a typed payload bound to one subject, camelCase on the wire."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar

import orjson
from pydantic import BaseModel, ConfigDict, StringConstraints
from pydantic.alias_generators import to_camel

EntityId = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{24}$")]


class Subject(StrEnum):
    TICKET_CREATED = "ticket.created"
    TICKET_UPDATED = "ticket.updated"
    ORDER_CREATED = "order.created"
    ORDER_CANCELLED = "order.cancelled"
    ORDER_COMPLETED = "order.completed"
    EXPIRATION_COMPLETE = "expiration.complete"
    PAYMENT_CREATED = "payment.created"
    USER_SESSIONS_REVOKED = "user.sessions-revoked"


class Payload(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )


class Event(Payload):
    """One message on one subject. Subclasses name their subject and their fields."""

    subject: ClassVar[Subject]

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json", by_alias=True, exclude_none=True))
