"""The room's rules: who may join, where each account stands, who is admitted next.

Every decision that two replicas could race on is one script in Redis (`repository`); this
module computes what only Python can: the draw's shuffle (a CSPRNG), the proof of work, the
admission's signature, and the estimates a waiting buyer is shown.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tixcommon.admission import AdmissionCodec
from tixcommon.auth import UserClaims
from tixcommon.errors import BadRequest, NotFound, TooManyRequests
from waitingroom.metrics import ADMISSIONS, DRAWN, JOINS
from waitingroom.models import JoinOutcome, PlaceStatus, StoredPlace
from waitingroom.proof_of_work import ProofOfWork
from waitingroom.repository import RoomStore
from waitingroom.schemas import PlaceOut, from_milliseconds
from waitingroom.settings import WaitingRoomSettings

NOT_OPEN = "Waiting room is not open yet"
PROOF_INVALID = "Proof of work is invalid"
# A draw read while someone joined is refused by the store and read again; after this many
# refusals in a row the next round tries again.
_DRAW_ATTEMPTS = 5


@dataclass(frozen=True)
class RoomRules:
    """The settings the room's decisions use, in the units its store keeps (milliseconds)."""

    opens_before: int
    admit_per_minute: int
    admit_per_round: int
    lease: int
    joins_per_address: int
    proof_ttl: int
    refresh_min: int
    refresh_max: int

    @classmethod
    def of(cls, settings: WaitingRoomSettings) -> RoomRules:
        per_round = settings.waiting_room_admit_per_minute * settings.waiting_room_tick_seconds
        return cls(
            opens_before=settings.waiting_room_opens_seconds * 1000,
            admit_per_minute=settings.waiting_room_admit_per_minute,
            admit_per_round=max(1, math.ceil(per_round / 60)),
            lease=settings.waiting_room_admission_seconds * 1000,
            joins_per_address=settings.waiting_room_joins_per_address,
            proof_ttl=settings.waiting_room_challenge_seconds,
            refresh_min=settings.waiting_room_refresh_min_seconds,
            refresh_max=max(
                settings.waiting_room_refresh_min_seconds,
                settings.waiting_room_refresh_max_seconds,
            ),
        )


@dataclass
class WaitingRoom:
    store: RoomStore
    proof: ProofOfWork
    admissions: AdmissionCodec
    rules: RoomRules
    clock: Callable[[], float] = time.time
    shuffle: Callable[[list[str]], None] = field(default=secrets.SystemRandom().shuffle)

    def now(self) -> int:
        return int(self.clock() * 1000)

    def challenge(self, buyer: UserClaims) -> dict[str, object]:
        return self.proof.challenge(buyer.id)

    async def join(
        self, buyer: UserClaims, ticket_id: str, solution: str, address: str
    ) -> tuple[PlaceOut, bool]:
        """The buyer's place, and whether it is new (False: the one it had)."""
        # Checked first, and with no I/O: a flood of unsolved joins costs two hashes each.
        challenge = self.proof.verify(solution, buyer.id)
        if challenge is None:
            JOINS.labels("bad-proof").inc()
            raise BadRequest(PROOF_INVALID, field="altcha")
        rules = self.rules
        joined = await self.store.join(
            ticket_id,
            buyer.id,
            now=self.now(),
            opens_before=rules.opens_before,
            address=address,
            joins_per_minute=rules.joins_per_address,
            proof=challenge,
            proof_ttl=rules.proof_ttl,
        )
        JOINS.labels(joined.outcome.value).inc()
        match joined.outcome:
            case JoinOutcome.NO_ROOM:
                raise NotFound()
            case JoinOutcome.RATE:
                raise TooManyRequests(retry_after=max(1, joined.retry_after))
            case JoinOutcome.NOT_OPEN:
                raise BadRequest(NOT_OPEN)
            case JoinOutcome.PROOF_USED:
                raise BadRequest(PROOF_INVALID, field="altcha")
        return await self.place(buyer, ticket_id), joined.outcome is JoinOutcome.JOINED

    async def place(self, buyer: UserClaims, ticket_id: str) -> PlaceOut:
        now = self.now()
        stored = await self.store.place(ticket_id, buyer.id, now=now)
        if stored is None:
            raise NotFound()
        return self._shown(buyer, ticket_id, stored, now)

    def _shown(self, buyer: UserClaims, ticket_id: str, stored: StoredPlace, now: int) -> PlaceOut:
        rules = self.rules
        if stored.lease_end is not None:
            admitted = stored.lease_end > now
            return PlaceOut(
                ticket_id=ticket_id,
                status=PlaceStatus.ADMITTED if admitted else PlaceStatus.EXPIRED,
                position=None,
                ahead=None,
                estimated_wait_seconds=0,
                refresh_seconds=rules.refresh_max,
                admission=(
                    self.admissions.issue(buyer.id, ticket_id, stored.lease_end // 1000)
                    if admitted
                    else None
                ),
                admitted_until=from_milliseconds(stored.lease_end) if admitted else None,
            )
        status = PlaceStatus.SOLD_OUT if stored.sold_out else PlaceStatus.WAITING
        if stored.ahead is None:
            # Before the draw nobody has a place yet: ask again just after it, each client at
            # its own moment within a few seconds, so the draw is not met by everyone at once.
            until_draw = max(0, math.ceil((stored.on_sale_at - now) / 1000))
            jitter = secrets.randbelow(rules.refresh_min * 2 + 1)
            return PlaceOut(
                ticket_id=ticket_id,
                status=status,
                position=None,
                ahead=None,
                estimated_wait_seconds=until_draw,
                refresh_seconds=min(rules.refresh_max, max(rules.refresh_min, until_draw)) + jitter,
                draw_at=from_milliseconds(stored.on_sale_at),
            )
        wait = math.ceil(stored.ahead / self._admitting_per_second(stored, now))
        return PlaceOut(
            ticket_id=ticket_id,
            status=status,
            position=stored.ahead + 1,
            ahead=stored.ahead,
            estimated_wait_seconds=wait,
            refresh_seconds=min(rules.refresh_max, max(rules.refresh_min, wait // 10)),
            draw_at=None if stored.drawn_at is None else from_milliseconds(stored.drawn_at),
        )

    def _admitting_per_second(self, stored: StoredPlace, now: int) -> float:
        """The rate the room really admits at (over the last minute, or since the draw if
        sooner), or its configured rate while it has admitted nobody yet."""
        since = 60.0
        if stored.drawn_at is not None:
            since = min(since, max(1.0, (now - stored.drawn_at) / 1000))
        observed = stored.admitted_last_minute / since
        return observed if observed > 0 else self.rules.admit_per_minute / 60

    async def advance(self) -> int:
        """One round over every room: draw a sale that has started, admit the next people.
        How many were admitted."""
        rules, now = self.rules, self.now()
        admitted = 0
        for ticket_id in await self.store.rooms():
            if await self.store.needs_draw(ticket_id, now=now):
                await self._draw(ticket_id, now)
            admitted += len(
                await self.store.admit(
                    ticket_id,
                    now=now,
                    per_minute=rules.admit_per_minute,
                    per_round=rules.admit_per_round,
                    lease=rules.lease,
                )
            )
        ADMISSIONS.inc(admitted)
        return admitted

    async def _draw(self, ticket_id: str, now: int) -> None:
        for _ in range(_DRAW_ATTEMPTS):
            order = await self.store.early_joiners(ticket_id)
            self.shuffle(order)
            drawn = await self.store.draw(ticket_id, order, now=now)
            if drawn != -2:
                DRAWN.inc(max(0, drawn))
                return
