"""The orders routes of the HTTP contract, and the door's: passes and check-ins."""

from __future__ import annotations

from typing import Annotated, Any

from bson import ObjectId
from fastapi import Header, Response, status

from orders.models import Order, Pass, PassStatus
from orders.pass_images import qr_png, qr_svg
from orders.passes import (
    ALREADY_CHECKED_IN,
    INVALID_CODE,
    NOT_FOR_THIS_EVENT,
    NOT_YOUR_EVENT,
    SCANNED_LATER,
)
from orders.schemas import CheckedInTicket, CheckInIn, CheckInOut, DoorOut, OrderIn, OrderOut
from orders.service import (
    ALREADY_RESERVED,
    COMPLETE,
    NOT_ADMITTED,
    NOT_ENOUGH_SEATS,
    NOT_ON_SALE,
    STARTED,
    STARTS_TOO_SOON,
    over_limit,
)
from orders.wiring import Orders, Passes
from tixcommon.admission import ADMISSION_HEADER
from tixcommon.auth import RequireUser, UserClaims
from tixcommon.db import parse_object_id
from tixcommon.errors import BadRequest, Conflict, Forbidden, NotAuthorized, NotFound
from tixcommon.fields import IdInPath
from tixcommon.idempotency import RETRY_SAFE
from tixcommon.openapi import refusals
from tixcommon.routers import service_router

router = service_router("/api/orders", tags=["orders"])
checkins = service_router("/api/checkins", tags=["passes"])

Admission = Annotated[
    str | None,
    Header(
        alias=ADMISSION_HEADER,
        description="The waiting room's admission of the caller to the ticket: required for a "
        "ticket with `onSaleAt`",
    ),
]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model_exclude_none=True,
    dependencies=[RETRY_SAFE],
    responses=refusals(
        BadRequest(ALREADY_RESERVED, field="ticketId"),
        BadRequest(NOT_ENOUGH_SEATS, field="quantity"),
        BadRequest(STARTED, field="ticketId"),
        BadRequest(STARTS_TOO_SOON, field="ticketId"),
        BadRequest(NOT_ON_SALE, field="ticketId"),
        over_limit(4),
        Forbidden(NOT_ADMITTED),
        NotFound(),
    ),
)
async def place_order(
    user: RequireUser, body: OrderIn, orders: Orders, admission: Admission = None
) -> OrderOut:
    placed = await orders.place(user, ObjectId(body.ticket_id), body.quantity, admission=admission)
    return OrderOut.of(placed)


@router.get("", response_model_exclude_none=True)
async def list_my_orders(user: RequireUser, orders: Orders) -> list[OrderOut]:
    mine = await orders.mine(user)
    passes = await orders.passes_of(mine)
    return [OrderOut.of(order, passes.get(str(order.id))) for order in mine]


# Before `/{order_id}`: "passes" is no id.
@router.get("/passes/keys", tags=["passes"])
async def pass_keys(passes: Passes) -> dict[str, list[dict[str, str]]]:
    """The public keys pass codes are signed with (a JWK set): a scanner checks codes with
    these and no network."""
    return passes.keys.jwks()


@router.get("/{order_id}", response_model_exclude_none=True, responses=refusals(NotAuthorized()))
async def show_order(order_id: IdInPath, user: RequireUser, orders: Orders) -> OrderOut:
    order = await orders.get_for(user, parse_object_id(order_id))
    passes = await orders.passes_of([order])
    return OrderOut.of(order, passes.get(str(order.id)))


async def _passes_of_mine(
    user: UserClaims, order_id: str, orders: Orders
) -> tuple[Order, list[Pass]]:
    order = await orders.get_for(user, parse_object_id(order_id))
    passes = await orders.passes_of([order])
    return order, passes.get(str(order.id), [])


async def _one_pass(user: UserClaims, order_id: str, pass_id: str, orders: Orders) -> Pass:
    parse_object_id(pass_id, "passId")
    _, passes = await _passes_of_mine(user, order_id, orders)
    found = next((issued for issued in passes if str(issued.id) == pass_id.lower()), None)
    if found is None:
        raise NotFound()
    return found


_IMAGE: dict[int | str, dict[str, Any]] = refusals(NotAuthorized(), NotFound())
# A pass is its holder's way in: no shared cache keeps a copy.
_PRIVATE = {"Cache-Control": "private, no-store"}


@router.get(
    "/{order_id}/passes/{pass_id}.svg",
    tags=["passes"],
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}, **_IMAGE},
)
async def pass_qr_svg(
    order_id: IdInPath, pass_id: IdInPath, user: RequireUser, orders: Orders
) -> Response:
    found = await _one_pass(user, order_id, pass_id, orders)
    return Response(qr_svg(found.code), media_type="image/svg+xml", headers=_PRIVATE)


@router.get(
    "/{order_id}/passes/{pass_id}.png",
    tags=["passes"],
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **_IMAGE},
)
async def pass_qr_png(
    order_id: IdInPath, pass_id: IdInPath, user: RequireUser, orders: Orders
) -> Response:
    found = await _one_pass(user, order_id, pass_id, orders)
    return Response(qr_png(found.code), media_type="image/png", headers=_PRIVATE)


@router.get(
    "/{order_id}/passes.pdf",
    tags=["passes"],
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}, **_IMAGE},
)
async def passes_document(
    order_id: IdInPath, user: RequireUser, orders: Orders, passes: Passes
) -> Response:
    order, issued = await _passes_of_mine(user, order_id, orders)
    if not issued:
        raise NotFound()  # not complete: no passes yet
    document = await passes.pdf(order, issued)
    return Response(
        document,
        media_type="application/pdf",
        headers={
            **_PRIVATE,
            "Content-Disposition": f'attachment; filename="tixvibe-passes-{order.id}.pdf"',
        },
    )


@checkins.post(
    "",
    responses=refusals(
        BadRequest(INVALID_CODE, field="code"),
        BadRequest(SCANNED_LATER, field="scannedAt"),
        BadRequest(NOT_FOR_THIS_EVENT, field="code"),
        Forbidden(NOT_YOUR_EVENT),
        Conflict(ALREADY_CHECKED_IN),
    ),
)
async def check_in(body: CheckInIn, user: RequireUser, passes: Passes) -> CheckInOut:
    """Let a pass in at the door, once: the seller of its ticket scans its code."""
    done = await passes.check_in(
        user,
        body.code,
        nonce=body.nonce,
        scanned_at=body.scanned_at,
        at_door_of=ObjectId(body.ticket_id) if body.ticket_id else None,
    )
    return CheckInOut(
        status=PassStatus.CHECKED_IN,
        checked_in_at=done.at,
        seat=done.seat,
        ticket=CheckedInTicket(id=str(done.ticket.id), title=done.ticket.title),
    )


@router.delete(
    "/{order_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=refusals(BadRequest(COMPLETE), NotAuthorized()),
)
async def cancel_order(order_id: IdInPath, user: RequireUser, orders: Orders) -> Response:
    await orders.cancel_by_buyer(user, parse_object_id(order_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@checkins.get("/{ticket_id}", responses=refusals(Forbidden(NOT_YOUR_EVENT), NotFound()))
async def door_counts(ticket_id: IdInPath, user: RequireUser, passes: Passes) -> DoorOut:
    """The seller's count at the door of a listing: passes issued, and checked in."""
    counts = await passes.door(user, parse_object_id(ticket_id, "ticketId"))
    return DoorOut(
        ticket=CheckedInTicket(id=str(counts.ticket.id), title=counts.ticket.title),
        sold=counts.sold,
        checked_in=counts.checked_in,
    )
