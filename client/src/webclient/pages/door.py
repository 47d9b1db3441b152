"""The seller's Scan page for a listing: passes checked in at the door, and the counts.

With a camera, the page's script (static/scan.js) reads QR codes and checks them in itself,
straight to `/api/checkins` through the router, as the card payment goes to payments: a door
scans quickly, and the page stays open between scans. Without a camera or without JavaScript, a
code is typed (or pasted) into a form posted here, which checks it in on the seller's behalf and
shows the answer on the page. Both say the same things in the same words, and both send the
listing with each code (`ticketId`), so orders refuses a pass of the seller's other listing as
`Not for this event` and it stays valid for its own.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from webclient.api import ApiError, ApiSession
from webclient.dependencies import Api, Render, SignedIn
from webclient.passes import read_payload
from webclient.schemas import CurrentUser, Door

router = APIRouter(prefix="/tickets/{ticket_id}/scan")

FormText = Annotated[str, Form()]
# What orders takes as a scan's nonce.
_NONCE = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What the page shows of one scan: green with the seat, or red with the reason."""

    checked_in: bool
    message: str
    status_code: int


def _seat_text(seat: int, of: int | None) -> str:
    return f"Seat {seat} of {of} — checked in" if of else f"Seat {seat} — checked in"


async def _check_in(api: ApiSession, ticket_id: str, code: str, nonce: str) -> ScanResult:
    try:
        done = await api.check_in(code, nonce, ticket_id)
    except ApiError as refusal:
        message = "; ".join(error.message for error in refusal.errors)
        return ScanResult(False, message, refusal.status_code)
    # Checked in, so orders verified the code: its "of" is the order's.
    payload = read_payload(code)
    return ScanResult(True, _seat_text(done.seat, payload.of if payload else None), 200)


def _scan_page(
    request: Request,
    render: Render,
    user: CurrentUser,
    door: Door,
    result: ScanResult | None = None,
) -> Response:
    context = {
        "title": f"Scan: {door.ticket.title}",
        "door": door,
        "result": result,
        # A form sent twice (a double tap, a browser's retry) is one scan: orders answers the
        # same nonce with its first answer, not with "Already checked in".
        "nonce": secrets.token_urlsafe(16),
    }
    status_code = result.status_code if result else 200
    return render.render(request, "tickets/scan.html", context, user=user, status_code=status_code)


@router.get("", response_class=HTMLResponse)
async def scan_page(
    request: Request, render: Render, api: Api, user: SignedIn, ticket_id: str
) -> Response:
    """The seller's own listing only: orders answers anyone else 403 Not your event."""
    return _scan_page(request, render, user, await api.door(ticket_id))


@router.post("", response_class=HTMLResponse)
async def scan_typed_code(
    request: Request,
    render: Render,
    api: Api,
    user: SignedIn,
    ticket_id: str,
    code: FormText = "",
    nonce: FormText = "",
) -> Response:
    """Check in a typed or pasted code (its spaces and line breaks dropped: a code has none)."""
    # The seller's listing, or refused before anything is checked in.
    listing = (await api.door(ticket_id)).ticket.id
    typed = "".join(code.split())
    scan_nonce = nonce if _NONCE.fullmatch(nonce) else secrets.token_urlsafe(16)
    result = await _check_in(api, listing, typed, scan_nonce)
    return _scan_page(request, render, user, await api.door(ticket_id), result)
