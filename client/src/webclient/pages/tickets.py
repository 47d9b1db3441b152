"""The storefront, a ticket's page, and a seller's listings."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from webclient.api import ApiError, ApiSession
from webclient.dependencies import Api, Render, SignedIn
from webclient.schemas import SORTS, CatalogueQuery, CurrentUser, Ticket, TicketForm

router = APIRouter()

FormText = Annotated[str, Form()]


def ticket_form(
    title: FormText = "",
    price: FormText = "",
    starts_at: Annotated[str, Form(alias="startsAt")] = "",
    venue: FormText = "",
    description: FormText = "",
    quantity: FormText = "",
    on_sale_at: Annotated[str, Form(alias="onSaleAt")] = "",
    per_buyer_limit: Annotated[str, Form(alias="perBuyerLimit")] = "",
) -> TicketForm:
    return TicketForm(
        title=title,
        price=price,
        starts_at=starts_at,
        venue=venue,
        description=description,
        quantity=quantity,
        on_sale_at=on_sale_at,
        per_buyer_limit=per_buyer_limit,
    )


PostedTicket = Annotated[TicketForm, Depends(ticket_form)]


async def _results(
    api: ApiSession, query: CatalogueQuery
) -> tuple[list[Ticket], str | None, ApiError | None]:
    """One page of the search's results and the next page's cursor, or why the API refused."""
    try:
        tickets, next_cursor = await api.catalogue(query)
    except ApiError as refusal:
        return [], None, refusal
    return tickets, next_cursor, None


@router.get("/", response_class=HTMLResponse)
async def home(
    request: Request, render: Render, api: Api, query: Annotated[CatalogueQuery, Query()]
) -> Response:
    """The storefront: one page of the search's results, with links to the pages around it."""
    user, (tickets, next_cursor, refusal) = await asyncio.gather(
        api.current_user(), _results(api, query)
    )
    errors = refusal.by_field if refusal else {}
    general = refusal.general if refusal else []
    if errors.pop("cursor", None):
        general.append("That page of results is out of date: start again from the first.")
    context = {
        "title": "Tickets for sale",
        "tickets": tickets,
        "query": query,
        "sorts": SORTS,
        "errors": errors,
        "general": general,
        "next_url": query.next_url(next_cursor) if next_cursor else None,
        "previous_url": query.previous_url(),
    }
    status_code = 400 if refusal else 200
    return render.render(request, "index.html", context, user=user, status_code=status_code)


def _form_page(
    request: Request,
    render: Render,
    user: CurrentUser,
    *,
    form: TicketForm,
    ticket: Ticket | None = None,
    error: ApiError | None = None,
    general: list[str] | None = None,
) -> Response:
    """The create form (no `ticket`) or the edit form, with the API's errors when it refused."""
    context = {
        "title": "Sell a ticket" if ticket is None else f"Edit {ticket.title}",
        "action": "create" if ticket is None else "edit",
        "ticket": ticket,
        "form": form,
        "errors": error.by_field if error else {},
        "general": error.general if error else general or [],
    }
    status_code = 400 if error else 200
    return render.render(request, "tickets/form.html", context, user=user, status_code=status_code)


@router.get("/tickets/new", response_class=HTMLResponse)
async def new_ticket(request: Request, render: Render, user: SignedIn) -> Response:
    return _form_page(request, render, user, form=TicketForm())


@router.post("/tickets/new", response_class=HTMLResponse)
async def create_ticket(
    request: Request,
    render: Render,
    api: Api,
    user: SignedIn,
    form: PostedTicket,
) -> Response:
    try:
        ticket = await api.create_ticket(form)
    except ApiError as error:
        return _form_page(request, render, user, form=form, error=error)
    return RedirectResponse(f"/tickets/{ticket.id}?listed=1", status_code=303)


@router.get("/tickets/mine", response_class=HTMLResponse)
async def my_tickets(request: Request, render: Render, api: Api, user: SignedIn) -> Response:
    tickets = await api.my_tickets()
    return render.render(
        request, "tickets/mine.html", {"title": "My tickets", "tickets": tickets}, user=user
    )


def purchase_block(ticket: Ticket, user: CurrentUser | None) -> str | None:
    """Why this user cannot buy this ticket now, or None when they can."""
    if ticket.started:
        return "This event has started: the ticket can no longer be bought."
    if ticket.status == "sold":
        return "Every seat has been sold." if ticket.many_seats else "This ticket has been sold."
    if ticket.status == "reserved":
        if ticket.many_seats:
            return (
                "Every seat is held by buyers paying right now. "
                "Seats they don't pay for in time are for sale again."
            )
        return (
            "Someone is buying this ticket right now. "
            "If they don't pay in time, it's for sale again."
        )
    if user is not None and ticket.user_id == user.id:
        return "This is your listing: you can't buy your own ticket."
    return None


def queue_block(ticket: Ticket, user: CurrentUser | None) -> str | None:
    """Why this user cannot join this ticket's waiting room, or None when they can: as for a
    purchase, except that seats all held are no reason, since the room keeps the place of
    whoever waits for the seats that come back."""
    if ticket.status == "reserved":
        ticket = ticket.model_copy(update={"status": "available"})
    return purchase_block(ticket, user)


async def _ticket_page(
    request: Request,
    render: Render,
    api: Api,
    ticket_id: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    user, ticket = await asyncio.gather(api.current_user(), api.ticket(ticket_id))
    context = {
        "title": ticket.title,
        "ticket": ticket,
        "blocked": (queue_block if ticket.queued else purchase_block)(ticket, user),
        "own": user is not None and ticket.user_id == user.id,
        "listed": request.query_params.get("listed") == "1",
        "error": error,
    }
    return render.render(request, "tickets/show.html", context, user=user, status_code=status_code)


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
async def show_ticket(request: Request, render: Render, api: Api, ticket_id: str) -> Response:
    return await _ticket_page(request, render, api, ticket_id)


@router.post("/tickets/{ticket_id}/purchase", response_class=HTMLResponse)
async def purchase(
    request: Request,
    render: Render,
    api: Api,
    user: SignedIn,
    ticket_id: str,
    quantity: FormText = "1",
) -> Response:
    try:
        order = await api.place_order(ticket_id, quantity)
    except ApiError as error:
        if error.status_code == 404:
            raise
        message = "; ".join(e.message for e in error.errors)
        return await _ticket_page(
            request, render, api, ticket_id, error=message, status_code=error.status_code
        )
    return RedirectResponse(f"/orders/{order.id}", status_code=303)


async def _owned(api: Api, user: CurrentUser, ticket_id: str) -> Ticket:
    ticket = await api.ticket(ticket_id)
    if ticket.user_id != user.id:
        raise ApiError.not_yours()
    return ticket


@router.get("/tickets/{ticket_id}/edit", response_class=HTMLResponse)
async def edit_ticket(
    request: Request, render: Render, api: Api, user: SignedIn, ticket_id: str
) -> Response:
    ticket = await _owned(api, user, ticket_id)
    return _form_page(
        request,
        render,
        user,
        form=TicketForm.of(ticket),
        ticket=ticket,
        general=["A reserved or sold ticket can't be edited."] if ticket.order_id else None,
    )


@router.post("/tickets/{ticket_id}/edit", response_class=HTMLResponse)
async def update_ticket(
    request: Request,
    render: Render,
    api: Api,
    user: SignedIn,
    ticket_id: str,
    form: PostedTicket,
) -> Response:
    ticket = await _owned(api, user, ticket_id)
    try:
        await api.update_ticket(ticket, form)
    except ApiError as error:
        return _form_page(request, render, user, form=form, ticket=ticket, error=error)
    return RedirectResponse(f"/tickets/{ticket_id}", status_code=303)
