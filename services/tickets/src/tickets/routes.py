"""The tickets routes of the HTTP contract."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response, status
from starlette.convertors import StringConvertor, register_url_convertor

from tickets.schemas import (
    MAX_BELOW_MIN,
    ON_SALE_AFTER_START,
    ON_SALE_IN_PAST,
    STARTS_IN_PAST,
    STARTS_TOO_LATE,
    TO_BEFORE_FROM,
    ListingQuery,
    SellerTicketOut,
    TicketIn,
    TicketOut,
)
from tickets.service import RESERVED, below_held
from tickets.wiring import Tickets
from tixcommon.auth import RequireUser
from tixcommon.db import parse_object_id
from tixcommon.errors import BadRequest, NotAuthorized
from tixcommon.fields import IdInPath
from tixcommon.idempotency import RETRY_SAFE
from tixcommon.openapi import refusals
from tixcommon.pages import INVALID_CURSOR
from tixcommon.routers import service_router

router = service_router("/api/tickets", tags=["tickets"])


class _ListingId(StringConvertor):
    """A listing's id in a path: any segment but `mine`, the seller's own list, so that
    `PUT /api/tickets/mine` is a 405 (as that path's `Allow` says), not a malformed id."""

    regex = "(?!mine$)[^/]+"


register_url_convertor("listing", _ListingId())


# What a valid body may still be refused for: a start or on-sale time that has passed since,
# and an on-sale that would open once the event has started (on an edit, as stored).
_WHEN = (
    BadRequest(STARTS_IN_PAST, field="startsAt"),
    BadRequest(STARTS_TOO_LATE, field="startsAt"),
    BadRequest(ON_SALE_IN_PAST, field="onSaleAt"),
    BadRequest(ON_SALE_AFTER_START, field="onSaleAt"),
)
_NEXT_PAGE = {
    "Link": {
        "description": 'The next page, when there is one: `</api/tickets?...>; rel="next"`',
        "schema": {"type": "string"},
    }
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model_exclude_none=True,
    dependencies=[RETRY_SAFE],
    responses=refusals(*_WHEN),
)
async def create_ticket(user: RequireUser, body: TicketIn, tickets: Tickets) -> TicketOut:
    return TicketOut.of(await tickets.create(user, body))


@router.get(
    "",
    response_model=list[TicketOut],
    response_model_exclude_none=True,
    responses={
        200: {"headers": _NEXT_PAGE},
        **refusals(
            BadRequest(MAX_BELOW_MIN, field="maxPrice"),
            BadRequest(TO_BEFORE_FROM, field="to"),
            BadRequest(INVALID_CURSOR, field="cursor"),
        ),
    },
)
async def list_tickets(
    request: Request, query: Annotated[ListingQuery, Query()], tickets: Tickets
) -> Response:
    body, next_cursor = await tickets.listing(query)
    response = Response(body, media_type="application/json")
    if next_cursor is not None:
        # Relative (RFC 8288 allows a reference): right behind any router, whatever its host.
        next_url = request.url.include_query_params(cursor=next_cursor)
        response.headers["link"] = f'<{next_url.path}?{next_url.query}>; rel="next"'
    return response


@router.get("/mine", response_model_exclude_none=True)
async def list_my_tickets(user: RequireUser, tickets: Tickets) -> list[SellerTicketOut]:
    mine = await tickets.list_by_seller(user)
    sold = await tickets.seats_sold(mine)
    return [SellerTicketOut.of(ticket, sold[str(ticket.id)]) for ticket in mine]


@router.get("/{ticket_id:listing}", response_model_exclude_none=True)
async def show_ticket(ticket_id: IdInPath, tickets: Tickets) -> TicketOut:
    ticket = await tickets.get(parse_object_id(ticket_id))
    sold = await tickets.seats_sold([ticket])
    return TicketOut.of(ticket, sold[str(ticket.id)])


@router.put(
    "/{ticket_id:listing}",
    response_model_exclude_none=True,
    responses=refusals(*_WHEN, BadRequest(RESERVED), below_held(3), NotAuthorized()),
)
async def update_ticket(
    ticket_id: IdInPath, user: RequireUser, body: TicketIn, tickets: Tickets
) -> TicketOut:
    return TicketOut.of(await tickets.update(parse_object_id(ticket_id), user, body))
