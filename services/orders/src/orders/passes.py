"""Passes: one per seat, issued in the transaction that completes an order, shown and printed
for its buyer, and checked in once at the door by the scanners of the ticket's seller.

A pass's code is signed (orders.pass_codes), so a scanner can tell a forged one with no network;
whether it was used is known here only, and changed by one conditional write.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession

from orders.metrics import CHECK_INS
from orders.models import Order, Pass, TicketReplica
from orders.pass_codes import InvalidPassCode, PassClaims, PassKeys
from orders.pass_images import PassSheet, passes_pdf
from orders.repository import PassRepository, TicketReplicaRepository
from tixcommon.auth import UserClaims
from tixcommon.errors import BadRequest, Conflict, Forbidden, NotFound
from tixcommon.fields import to_milliseconds

INVALID_CODE = "Invalid ticket code"
NOT_YOUR_EVENT = "Not your event"
NOT_FOR_THIS_EVENT = "Not for this event"
ALREADY_CHECKED_IN = "Already checked in"
SCANNED_LATER = "Scan time is in the future"
# A scanner's clock may run ahead of ours by this much before its scan times are refused.
SCANNER_CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class CheckedIn:
    seat: int
    at: datetime
    ticket: TicketReplica


@dataclass(frozen=True)
class DoorCounts:
    ticket: TicketReplica
    sold: int  # seats of complete orders: passes issued
    checked_in: int


@dataclass
class PassBook:
    keys: PassKeys
    passes: PassRepository
    tickets: TicketReplicaRepository

    async def issue(self, order: Order, *, session: AsyncClientSession) -> list[Pass]:
        """The order's passes, one per seat, each with its signed code, stored in the
        transaction (`session`) that completes the order."""
        issued = []
        for seat in range(1, order.quantity + 1):
            pass_id = ObjectId()
            claims = PassClaims(str(pass_id), order.ticket.id, seat, order.quantity)
            issued.append(
                Pass(
                    id=pass_id,
                    order_id=str(order.id),
                    ticket_id=order.ticket.id,
                    seat=seat,
                    of=order.quantity,
                    code=self.keys.sign(claims),
                )
            )
        await self.passes.add(issued, session=session)
        return issued

    async def of_orders(self, orders: list[Order]) -> dict[str, list[Pass]]:
        return await self.passes.of_orders([str(order.id) for order in orders])

    async def pdf(self, order: Order, issued: list[Pass]) -> bytes:
        """The order's passes, a page each: what its buyer downloads and is mailed."""
        ticket = await self.tickets.get(ObjectId(order.ticket.id))
        sheets = [
            PassSheet(
                event_title=order.ticket.title,
                venue=ticket.venue if ticket else None,
                starts_at=ticket.starts_at if ticket else None,
                seat=one.seat,
                of=one.of,
                buyer_email=order.buyer_email or "",
                code=one.code,
                order_id=str(order.id),
            )
            for one in issued
        ]
        # Drawing pages is CPU work: off the event loop, which keeps serving meanwhile.
        return await asyncio.to_thread(passes_pdf, sheets)

    async def door(self, scanner: UserClaims, ticket_id: ObjectId) -> DoorCounts:
        """What the door has let in of the seller's listing so far."""
        ticket = await self.tickets.get(ticket_id)
        if ticket is None:
            raise NotFound()
        if ticket.seller_id != scanner.id:
            raise Forbidden(NOT_YOUR_EVENT)
        sold, checked_in = await self.passes.counts(str(ticket.id))
        return DoorCounts(ticket, sold, checked_in)

    async def check_in(
        self,
        scanner: UserClaims,
        code: str,
        *,
        nonce: str | None = None,
        scanned_at: datetime | None = None,
        at_door_of: ObjectId | None = None,
    ) -> CheckedIn:
        """Let the pass in once. The same `nonce` again (a scanner retrying a scan whose answer
        it lost) gets the first answer; `scanned_at`, of a scan made offline, is when it was let
        in; `at_door_of`, the listing the scanner is at the door of, refuses the seller's passes
        of their other listings (the other nights of a run), which stay valid for their own."""
        now = datetime.now(UTC)
        if scanned_at is not None and scanned_at > now + SCANNER_CLOCK_SKEW:
            raise BadRequest(SCANNED_LATER, field="scannedAt")
        try:
            claims = self.keys.verify(code)
        except InvalidPassCode:
            CHECK_INS.labels("invalid").inc()
            raise BadRequest(INVALID_CODE, field="code") from None
        ticket = await self.tickets.get(ObjectId(claims.ticket_id))
        if ticket is None or ticket.seller_id != scanner.id:
            CHECK_INS.labels("not-yours").inc()
            raise Forbidden(NOT_YOUR_EVENT)
        if at_door_of is not None and claims.ticket_id != str(at_door_of):
            CHECK_INS.labels("other-event").inc()
            raise BadRequest(NOT_FOR_THIS_EVENT, field="code")
        pass_id = ObjectId(claims.pass_id)
        # To the millisecond, as the database keeps it: this answer and the order's agree.
        at = to_milliseconds(scanned_at or now)
        if await self.passes.check_in(pass_id, at, nonce):
            CHECK_INS.labels("checked-in").inc()
            return CheckedIn(claims.seat, at, ticket)
        # Not valid any more, or never issued: a code we signed names a pass we stored, so the
        # second can only be a signing key out of our hands.
        existing = await self.passes.get(pass_id)
        if existing is None:
            CHECK_INS.labels("invalid").inc()
            raise BadRequest(INVALID_CODE, field="code")
        if nonce is None or existing.check_in_nonce != nonce or existing.checked_in_at is None:
            CHECK_INS.labels("already").inc()
            raise Conflict(ALREADY_CHECKED_IN)
        CHECK_INS.labels("repeated").inc()
        return CheckedIn(existing.seat, existing.checked_in_at, ticket)
