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
    `lease_end`. `available`: the seats left (neither sold nor held by an order); `reserved`:
    how many of them unexpired admissions hold."""

    on_sale_at: int
    available: int
    ahead: int | None = None
    lease_end: int | None = None
    admitted_last_minute: int = 0
    drawn_at: int | None = None
    reserved: int = 0

    @property
    def sold_out(self) -> bool:
        """Whether no seat can come to this place now: every seat left is held for someone
        admitted, and no more are held than there are people ahead, so were all of them given
        back, the people ahead would be admitted to them first. (Before the draw nobody is
        admitted: then only when no seat is left.)"""
        if self.available - self.reserved > 0:
            return False
        # Held seats are seats left: more held than that (an order took more than its
        # admission held, or its event is on its way) can never come back.
        held = min(self.reserved, self.available)
        return self.ahead is None or self.ahead >= held
