"""The request and response bodies of the waiting room's routes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_serializer
from pydantic.alias_generators import to_camel

from tixcommon.fields import iso_utc
from waitingroom.models import PlaceStatus

SOLUTION_MAX = 2048


def from_milliseconds(moment: int) -> datetime:
    return datetime.fromtimestamp(moment / 1000, UTC)


class ChallengeOut(BaseModel):
    """ALTCHA's challenge (its v1 format), what its widget's `challengeurl` answers."""

    algorithm: str
    challenge: str
    maxnumber: int
    salt: str
    signature: str


class JoinIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    altcha: Annotated[
        str,
        Field(
            max_length=SOLUTION_MAX,
            description="The solved challenge, as ALTCHA's widget submits it (base64 JSON)",
        ),
    ]


class PlaceOut(BaseModel):
    """One account's place in one room. `position` and `ahead` are null until the draw, which
    `drawAt` announces; `admission` and `admittedUntil` come with `admitted`."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    ticket_id: str
    status: PlaceStatus
    position: int | None
    ahead: int | None
    estimated_wait_seconds: int
    refresh_seconds: int
    draw_at: datetime | None = None
    admission: str | None = None
    admitted_until: datetime | None = None

    @field_serializer("draw_at", "admitted_until")
    def _moments(self, value: datetime | None) -> str | None:
        return None if value is None else iso_utc(value)
