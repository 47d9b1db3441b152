"""The orders routes of the HTTP contract."""

from __future__ import annotations

from typing import Annotated

from bson import ObjectId
from fastapi import Header, Response, status

from orders.schemas import OrderIn, OrderOut
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
from orders.wiring import Orders
from tixcommon.admission import ADMISSION_HEADER
from tixcommon.auth import RequireUser
from tixcommon.db import parse_object_id
from tixcommon.errors import BadRequest, Forbidden, NotAuthorized, NotFound
from tixcommon.fields import IdInPath
from tixcommon.idempotency import RETRY_SAFE
from tixcommon.openapi import refusals
from tixcommon.routers import service_router

router = service_router("/api/orders", tags=["orders"])

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


@router.get("")
async def list_my_orders(user: RequireUser, orders: Orders) -> list[OrderOut]:
    return [OrderOut.of(order) for order in await orders.mine(user)]


@router.get("/{order_id}", responses=refusals(NotAuthorized()))
async def show_order(order_id: IdInPath, user: RequireUser, orders: Orders) -> OrderOut:
    return OrderOut.of(await orders.get_for(user, parse_object_id(order_id)))


@router.delete(
    "/{order_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=refusals(BadRequest(COMPLETE), NotAuthorized()),
)
async def cancel_order(order_id: IdInPath, user: RequireUser, orders: Orders) -> Response:
    await orders.cancel_by_buyer(user, parse_object_id(order_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
