"""Calling the platform's services on behalf of the browser that asked for a page.

One connection pool for the process; per request, an `ApiSession` that carries the caller's
session cookie, request id and address, and nothing else. The pool keeps no cookies
(`tixcommon.http_client`): a `Set-Cookie` from auth is handed back to its browser only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from tixcommon.admission import ADMISSION_HEADER
from tixcommon.http_client import shared_http_client
from tixcommon.route_table import service_for
from webclient.schemas import (
    CatalogueQuery,
    CheckIn,
    CurrentUser,
    Door,
    FieldError,
    Order,
    Place,
    Ticket,
    TicketForm,
)
from webclient.settings import ClientSettings

SESSION_COOKIE = "session"
ModelT = TypeVar("ModelT", bound=BaseModel)


class ApiError(Exception):
    """The API refused the request (4xx): its errors, in the contract's shape."""

    def __init__(self, status_code: int, errors: Sequence[FieldError]) -> None:
        super().__init__(f"{status_code}: {[e.message for e in errors]}")
        self.status_code = status_code
        self.errors = list(errors)

    @classmethod
    def not_yours(cls) -> ApiError:
        return cls(403, [FieldError(message="Only the seller can change this listing.")])

    @property
    def by_field(self) -> dict[str, str]:
        return {error.field: error.message for error in self.errors if error.field}

    @property
    def general(self) -> list[str]:
        return [error.message for error in self.errors if not error.field]


class BackendUnavailable(Exception):
    """A service could not answer (down, timed out, or failed): the page cannot be made now."""

    def __init__(self, service: str, detail: str) -> None:
        super().__init__(f"{service}: {detail}")
        self.service = service


class Backend:
    """The process-wide HTTP client to the services, created in the app's lifespan."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self.http = shared_http_client(timeout=settings.api_timeout_seconds)

    async def aclose(self) -> None:
        await self.http.aclose()

    def url(self, path: str) -> str:
        return self.settings.backend_url(service_for(path)) + path


_TICKETS = TypeAdapter(list[Ticket])
_ORDERS = TypeAdapter(list[Order])


class ApiSession:
    def __init__(self, backend: Backend, session: str | None, headers: dict[str, str]) -> None:
        self.backend = backend
        self.headers = dict(headers)
        if session:
            self.headers["cookie"] = f"{SESSION_COOKIE}={session}"

    async def send(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """The raw response of one call; 5xx and unreachable become BackendUnavailable."""
        service = service_for(path)
        try:
            response = await self.backend.http.request(
                method,
                self.backend.url(path),
                json=body,
                headers=self.headers | headers if headers else self.headers,
            )
        except httpx.TimeoutException:
            raise BackendUnavailable(service, "timed out") from None
        except httpx.HTTPError as error:
            raise BackendUnavailable(service, type(error).__name__) from None
        if response.status_code >= 500:
            raise BackendUnavailable(service, f"answered {response.status_code}")
        return response

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Any:
        """The JSON of a successful call; a refusal raises ApiError with the API's errors."""
        response = await self.send(method, path, body, headers)
        if response.status_code >= 400:
            raise api_error(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    # -- the calls the pages make --------------------------------------------------------------

    async def current_user(self) -> CurrentUser | None:
        if SESSION_COOKIE not in self.headers.get("cookie", ""):
            return None  # no cookie, no session: skip the round trip
        data = await self.call("GET", "/api/users/currentuser")
        user = data.get("currentUser") if isinstance(data, dict) else None
        return CurrentUser.model_validate(user) if user else None

    async def catalogue(self, query: CatalogueQuery) -> tuple[list[Ticket], str | None]:
        """One page of the tickets for sale that `query` finds, and the next page's cursor."""
        path = str(httpx.URL("/api/tickets", params=query.api_params()))
        response = await self.send("GET", path)
        if response.status_code >= 400:
            raise api_error(response)
        following = response.links.get("next", {}).get("url")
        next_cursor = httpx.URL(following).params.get("cursor") if following else None
        return _TICKETS.validate_python(response.json()), next_cursor

    async def my_tickets(self) -> list[Ticket]:
        return _TICKETS.validate_python(await self.call("GET", "/api/tickets/mine"))

    async def ticket(self, ticket_id: str) -> Ticket:
        return Ticket.model_validate(await self.call("GET", f"/api/tickets/{ticket_id}"))

    async def create_ticket(self, form: TicketForm) -> Ticket:
        return Ticket.model_validate(await self.call("POST", "/api/tickets", form.body()))

    async def update_ticket(self, ticket: Ticket, form: TicketForm) -> Ticket:
        body = form.body(stored=TicketForm.of(ticket))
        return Ticket.model_validate(await self.call("PUT", f"/api/tickets/{ticket.id}", body))

    async def orders(self) -> list[Order]:
        return _ORDERS.validate_python(await self.call("GET", "/api/orders"))

    async def order(self, order_id: str) -> Order:
        return Order.model_validate(await self.call("GET", f"/api/orders/{order_id}"))

    async def place_order(
        self, ticket_id: str, quantity: str = "1", *, admission: str | None = None
    ) -> Order:
        """An order for `quantity` seats, as the form sent it (the API says what it refuses),
        with the waiting room's `admission` when the ticket sells through one."""
        body = {"ticketId": ticket_id, "quantity": quantity}
        headers = {ADMISSION_HEADER: admission} if admission else None
        return Order.model_validate(await self.call("POST", "/api/orders", body, headers))

    async def cancel_order(self, order_id: str) -> None:
        await self.call("DELETE", f"/api/orders/{order_id}")

    async def pass_qr_svg(self, order_id: str, pass_id: str) -> str:
        """A pass's QR code as orders draws it (one renderer for the page, the PDF and mail)."""
        response = await self.send("GET", f"/api/orders/{order_id}/passes/{pass_id}.svg")
        if response.status_code >= 400:
            raise api_error(response)
        return response.text

    async def passes_pdf(self, order_id: str) -> httpx.Response:
        """The order's passes as orders' PDF, with its headers (its name, no caching)."""
        response = await self.send("GET", f"/api/orders/{order_id}/passes.pdf")
        if response.status_code >= 400:
            raise api_error(response)
        return response

    async def door(self, ticket_id: str) -> Door:
        """The seller's count at the door of their listing (403 for anyone else's)."""
        return Door.model_validate(await self.call("GET", f"/api/checkins/{ticket_id}"))

    async def check_in(self, code: str, nonce: str, ticket_id: str) -> CheckIn:
        """Let a pass in at the door of the listing `ticket_id` (a pass of another is refused);
        the same `nonce` again (a form sent twice) gets the first answer."""
        body = {"code": code, "nonce": nonce, "ticketId": ticket_id}
        return CheckIn.model_validate(await self.call("POST", "/api/checkins", body))

    async def join_queue(self, ticket_id: str, altcha: str) -> Place:
        """A place in the ticket's waiting room, for the proof of work ALTCHA's widget solved
        (the place the buyer already has, when they have one)."""
        body = {"altcha": altcha}
        return Place.model_validate(await self.call("POST", f"/api/waitingroom/{ticket_id}", body))

    async def place(self, ticket_id: str) -> Place | None:
        """The buyer's place in the ticket's waiting room; None when they have none."""
        response = await self.send("GET", f"/api/waitingroom/{ticket_id}")
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise api_error(response)
        return Place.model_validate(response.json())


def api_error(response: httpx.Response) -> ApiError:
    try:
        errors = TypeAdapter(list[FieldError]).validate_python(response.json()["errors"])
    except (ValueError, KeyError, TypeError, ValidationError):
        errors = [FieldError(message=f"Request failed ({response.status_code})")]
    return ApiError(response.status_code, errors)
