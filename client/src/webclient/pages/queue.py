"""A ticket's waiting room: joining it, the buyer's place in it, and buying when admitted.

The page is made here, on the server; once open it keeps itself up to date by asking the room
for the place itself (static/app.js, `GET /api/waitingroom/{id}` through the router, like the
card payment's call to payments): at an on-sale every buyer polls, and the room is the service
scaled for that, so the polls do not pass through the client as well. Joining is a form post
through the client, like every other form: once per buyer, and checked for CSRF.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from webclient.api import ApiError, ApiSession
from webclient.dependencies import Api, Render, SignedIn
from webclient.pages.tickets import purchase_block
from webclient.schemas import CurrentUser, Order, Place, Ticket

router = APIRouter(prefix="/tickets/{ticket_id}/queue")

FormText = Annotated[str, Form()]
# The room answers 404 for a ticket it has not heard of yet (its events take a moment).
ROOM_NOT_READY = "The waiting room is not ready yet: try again in a moment."


async def _bought(api: ApiSession, ticket_id: str) -> int:
    """The seats this buyer holds or has bought of the ticket: what an ended turn did."""
    orders: list[Order] = await api.orders()
    return sum(o.quantity for o in orders if o.ticket.id == ticket_id and o.status != "cancelled")


async def _queue_page(
    request: Request,
    render: Render,
    api: ApiSession,
    user: CurrentUser,
    ticket: Ticket,
    place: Place | None,
    *,
    errors: dict[str, str] | None = None,
    general: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "title": f"Waiting room: {ticket.title}",
        "ticket": ticket,
        "place": place,
        "blocked": purchase_block(ticket, user) if place and place.status == "admitted" else None,
        "bought": await _bought(api, ticket.id) if place and place.status == "expired" else 0,
        "errors": errors or {},
        "general": general or [],
    }
    return render.render(request, "tickets/queue.html", context, user=user, status_code=status_code)


@router.get("", response_class=HTMLResponse)
async def show_place(
    request: Request, render: Render, api: Api, user: SignedIn, ticket_id: str
) -> Response:
    """Where the buyer stands, or the form to join when they have no place."""
    ticket, place = await asyncio.gather(api.ticket(ticket_id), api.place(ticket_id))
    if not ticket.queued:
        return RedirectResponse(f"/tickets/{ticket_id}", status_code=303)
    return await _queue_page(request, render, api, user, ticket, place)


@router.post("", response_class=HTMLResponse)
async def join(
    request: Request,
    render: Render,
    api: Api,
    user: SignedIn,
    ticket_id: str,
    altcha: FormText = "",
) -> Response:
    """Join with the proof of work ALTCHA's widget solved in the page (already in the room:
    the same place, and the page shows it)."""
    try:
        await api.join_queue(ticket_id, altcha)
    except ApiError as refusal:
        ticket = await api.ticket(ticket_id)
        if refusal.status_code == 404:
            general, status_code = [ROOM_NOT_READY], 503
        else:
            general, status_code = refusal.general, refusal.status_code
        return await _queue_page(
            request,
            render,
            api,
            user,
            ticket,
            None,
            errors=refusal.by_field,
            general=general,
            status_code=status_code,
        )
    return RedirectResponse(f"/tickets/{ticket_id}/queue", status_code=303)


@router.post("/purchase", response_class=HTMLResponse)
async def purchase(
    request: Request,
    render: Render,
    api: Api,
    user: SignedIn,
    ticket_id: str,
    quantity: FormText = "1",
) -> Response:
    """Order with the buyer's admission, which the room gives with their place: it never
    reaches the page, and a turn that has ended is shown as such rather than refused."""
    place = await api.place(ticket_id)
    if place is None or place.admission is None:
        return RedirectResponse(f"/tickets/{ticket_id}/queue", status_code=303)
    try:
        order = await api.place_order(ticket_id, quantity, admission=place.admission)
    except ApiError as refusal:
        if refusal.status_code == 404:
            raise
        ticket = await api.ticket(ticket_id)
        return await _queue_page(
            request,
            render,
            api,
            user,
            ticket,
            place,
            general=[error.message for error in refusal.errors],
            status_code=refusal.status_code,
        )
    return RedirectResponse(f"/orders/{order.id}", status_code=303)
