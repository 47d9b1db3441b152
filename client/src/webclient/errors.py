"""Every failure becomes a readable page: never a stack trace, never a JSON body."""

from __future__ import annotations

import logging
from html import escape
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message

from tixcommon.errors import AppError
from tixcommon.methods import allowed_methods
from webclient.api import SESSION_COOKIE, ApiError, BackendUnavailable
from webclient.dependencies import SignInRequired
from webclient.rendering import Pages
from webclient.security import CsrfRejected

logger = logging.getLogger(__name__)

_HEADINGS = {
    400: "That didn't work",
    403: "Not yours",
    404: "Page not found",
    405: "Not allowed",
    413: "That's too big",
    429: "Slow down",
    500: "Something went wrong",
    503: "We'll be right back",
}


def error_page(
    request: Request, status: int, messages: list[str], *, heading: str | None = None
) -> Response:
    pages: Pages = request.app.state.pages
    context = {
        "title": heading or _HEADINGS.get(status, "Something went wrong"),
        "status": status,
        "messages": messages,
    }
    return pages.render(request, "error.html", context, status_code=status)


def install_page_errors(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, error: SignInRequired) -> Response:
        return RedirectResponse(f"/auth/signin?next={quote(error.next_path)}", status_code=303)

    @app.exception_handler(ApiError)
    async def refused(request: Request, error: ApiError) -> Response:
        messages = [e.message for e in error.errors]
        if error.status_code == 401:
            if SESSION_COOKIE not in request.cookies:
                return RedirectResponse(
                    f"/auth/signin?next={quote(request.url.path)}", status_code=303
                )
            return error_page(request, 403, ["That belongs to someone else."])
        if error.status_code == 404 or (error.status_code == 400 and request.method == "GET"):
            # A malformed id in a link is a page that does not exist, not a form error.
            return error_page(request, 404, ["We couldn't find that page."])
        return error_page(request, error.status_code, messages)

    @app.exception_handler(BackendUnavailable)
    async def unavailable(request: Request, error: BackendUnavailable) -> Response:
        logger.warning("backend unavailable", extra={"error": str(error)})
        return error_page(
            request,
            503,
            ["Part of TixVibe is not answering right now. Please try again in a moment."],
        )

    @app.exception_handler(CsrfRejected)
    async def csrf(request: Request, error: CsrfRejected) -> Response:
        logger.info("form rejected", extra={"reason": str(error)})
        return error_page(
            request,
            403,
            ["This form has expired. Go back, reload the page and try again."],
            heading="Form expired",
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 404:
            return error_page(request, 404, ["We couldn't find that page."])
        if error.status_code == 405:
            allow = allowed_methods(request)
            if request.method == "OPTIONS":
                return Response(status_code=204, headers={"Allow": allow})
            page = error_page(request, 405, ["This page can't be used that way."])
            page.headers["Allow"] = allow
            return page
        return error_page(request, error.status_code, [str(error.detail)])

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, error: RequestValidationError) -> Response:
        return error_page(request, 400, ["That request was malformed."])


def render_edge_error(error: AppError, request_id: str) -> tuple[Message, Message]:
    """The page for errors raised before or outside the routes (body too large, a crash):
    plain HTML with no template, so it works whatever else is broken."""
    heading = _HEADINGS.get(error.status_code, "Something went wrong")
    message = escape(error.message)
    body = (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{heading}</title>"
        "<body>"
        f"<h1>{heading}</h1><p>{message}</p><p><a href='/'>Back to TixVibe</a></p>"
        f"<p><small>Reference: {escape(request_id)}</small></p></body></html>"
    ).encode()
    start: Message = {
        "type": "http.response.start",
        "status": error.status_code,
        "headers": [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", request_id.encode()),
        ],
    }
    return start, {"type": "http.response.body", "body": body}
