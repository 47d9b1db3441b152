from __future__ import annotations

from pydantic import Field

from tixcommon.settings import EventServiceSettings


class WaitingRoomSettings(EventServiceSettings):
    service_name: str = "waitingroom"
    port: int = 3007

    redis_url: str
    # The room opens this long before the sale: who joins until the sale starts is drawn into
    # one random order at its start.
    waiting_room_opens_seconds: int = Field(default=1800, gt=0)
    # The room's rate, the same for every room: a seller cannot raise it.
    waiting_room_admit_per_minute: int = Field(default=600, ge=1)
    # How long an admission lasts, from the moment it is given.
    waiting_room_admission_seconds: int = Field(default=600, gt=0)
    # ALTCHA's difficulty: the largest number a browser may have to try (it tries half on
    # average, each one SHA-256 hash: 50,000 is about a quarter of a second on a phone).
    waiting_room_difficulty: int = Field(default=50_000, ge=1)
    # How long a challenge may be solved and used (once) after it was handed out.
    waiting_room_challenge_seconds: int = Field(default=300, gt=0)
    # Joins per client address per minute (429 beyond): one household or office behind one
    # address still gets in; a script looping on one address does not.
    waiting_room_joins_per_address: int = Field(default=30, ge=1)
    # How often each replica admits the next people and draws a sale that has started.
    waiting_room_tick_seconds: float = Field(default=0.25, gt=0)
    # How long a waiting client is told to wait before asking again: longer the further back
    # it is (a tenth of its estimated wait), so 20,000 waiting people do not poll as one.
    waiting_room_refresh_min_seconds: int = Field(default=2, ge=1)
    waiting_room_refresh_max_seconds: int = Field(default=30, ge=1)

    @property
    def key_prefix(self) -> str:
        suffix = f":{self.events_namespace}" if self.events_namespace else ""
        return f"tix:waitingroom{suffix}:"
