"""The tickets routes of the HTTP contract."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response, status

from tickets.schemas import ListingQuery, SellerTicketOut, TicketIn, TicketOut, listing_json
from tickets.wiring import Tickets
from tixcommon.auth import RequireUser
from tixcommon.db import parse_object_id
from tixcommon.idempotency import RETRY_SAFE
from tixcommon.routers import service_router

router = service_router("/api/tickets", tags=["tickets"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model_exclude_none=True,
    dependencies=[RETRY_SAFE],
)
async def create_ticket(user: RequireUser, body: TicketIn, tickets: Tickets) -> TicketOut:
    return TicketOut.of(await tickets.create(user, body))


@router.get("", response_model=list[TicketOut], response_model_exclude_none=True)
async def list_tickets(
    request: Request, query: Annotated[ListingQuery, Query()], tickets: Tickets
) -> Response:
    page, next_cursor = await tickets.listing(query)
    response = Response(listing_json(page), media_type="application/json")
    if next_cursor is not None:
        # Relative (RFC 8288 allows a reference): right behind any router, whatever its host.
        next_url = request.url.include_query_params(cursor=next_cursor)
        response.headers["link"] = f'<{next_url.path}?{next_url.query}>; rel="next"'
    return response


# Declared before /{ticket_id}, which would take "mine" for a malformed id.
@router.get("/mine", response_model_exclude_none=True)
async def list_my_tickets(user: RequireUser, tickets: Tickets) -> list[SellerTicketOut]:
    mine = await tickets.list_by_seller(user)
    sold = await tickets.seats_sold(mine)
    return [SellerTicketOut.of(ticket, sold[str(ticket.id)]) for ticket in mine]


@router.get("/{ticket_id}", response_model_exclude_none=True)
async def show_ticket(ticket_id: str, tickets: Tickets) -> TicketOut:
    ticket = await tickets.get(parse_object_id(ticket_id))
    sold = await tickets.seats_sold([ticket])
    return TicketOut.of(ticket, sold[str(ticket.id)])


@router.put("/{ticket_id}", response_model_exclude_none=True)
async def update_ticket(
    ticket_id: str, user: RequireUser, body: TicketIn, tickets: Tickets
) -> TicketOut:
    return TicketOut.of(await tickets.update(parse_object_id(ticket_id), user, body))
