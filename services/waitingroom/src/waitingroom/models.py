"""What the room knows of one account, as its store reads it (times in Unix milliseconds)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PlaceStatus(StrEnum):
    WAITING = "waiting"
    ADMITTED = "admitted"
    EXPIRED = "expired"
    SOLD_OUT = "sold-out"


class JoinOutcome(StrEnum):
    JOINED = "joined"
    EXISTING = "existing"
    NO_ROOM = "no-room"
    RATE = "rate"
    NOT_OPEN = "not-open"
    PROOF_USED = "proof-used"


@dataclass(frozen=True)
class Joined:
    outcome: JoinOutcome
    retry_after: int = 0


@dataclass(frozen=True)
class StoredPlace:
    """An account's place: before the draw (`ahead` None), in line, or admitted until
    `lease_end`."""

    on_sale_at: int
    available: int
    ahead: int | None = None
    lease_end: int | None = None
    admitted_last_minute: int = 0
    drawn_at: int | None = None
