"""A forgotten password: asking for a reset link by email, then choosing a new password with it.

The link's token opens the account for 30 minutes, so it goes nowhere but to auth: from the
mailed link into the reset form's hidden field, posted in the body (never in a URL we make).
The reset pages send no Referer (`no-referrer`) and load nothing from another origin, and the
access log has the path only, never the query that carries the token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from webclient.api import api_error
from webclient.dependencies import Api, MaybeUser, Render
from webclient.pages.account import ACCOUNT_PATH
from webclient.pages.auth import retry_later, with_api_cookies

router = APIRouter(prefix="/auth")

FormText = Annotated[str, Form()]


def sent_notice(email: str) -> str:
    """The same words whether or not the account exists: the page must not tell which."""
    return (
        f"If an account exists for {email}, we have sent a link to reset its password. "
        "It works for 30 minutes."
    )


@router.get("/forgot", response_class=HTMLResponse)
async def forgot_form(request: Request, render: Render, user: MaybeUser) -> Response:
    context = {"title": "Forgot your password?", "email": ""}
    return render.render(request, "auth/forgot.html", context, user=user)


@router.post("/forgot", response_class=HTMLResponse)
async def ask_for_link(
    request: Request, render: Render, api: Api, user: MaybeUser, email: FormText = ""
) -> Response:
    response = await api.send("POST", "/api/users/password-reset", {"email": email})
    context: dict[str, object] = {"title": "Forgot your password?", "email": email}
    if response.status_code < 400:
        context["sent"] = sent_notice(email.strip())
        return render.render(request, "auth/forgot.html", context, user=user)
    if response.status_code == 429:
        context["general"] = [retry_later(response)]
    else:
        error = api_error(response)
        context.update(errors=error.by_field, general=error.general)
    status = 429 if response.status_code == 429 else 400
    return render.render(request, "auth/forgot.html", context, user=user, status_code=status)


def _without_referrer(page: Response) -> Response:
    """The reset page's URL (and its form's, for a refused post) holds the token: no link or
    resource on it may take the URL elsewhere in a Referer."""
    page.headers["referrer-policy"] = "no-referrer"
    return page


def _reset_page(
    request: Request,
    render: Render,
    user: MaybeUser,
    *,
    token: str,
    errors: dict[str, str] | None = None,
    general: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    """The new-password form for `token`; with no token (or one auth refused), the way to ask
    for a new link instead."""
    context = {
        "title": "Choose a new password",
        "token": token,
        "errors": errors or {},
        "general": general or [],
    }
    page = render.render(request, "auth/reset.html", context, user=user, status_code=status_code)
    return _without_referrer(page)


@router.get("/reset", response_class=HTMLResponse)
async def reset_form(
    request: Request, render: Render, user: MaybeUser, token: str = ""
) -> Response:
    return _reset_page(request, render, user, token=token)


@router.post("/reset", response_class=HTMLResponse)
async def reset_password(
    request: Request,
    render: Render,
    api: Api,
    user: MaybeUser,
    token: FormText = "",
    password: FormText = "",
) -> Response:
    response = await api.send(
        "POST", "/api/users/password-reset/confirm", {"token": token, "password": password}
    )
    if response.status_code < 400:
        # Auth answers with the new session (every earlier one is ended): the browser keeps it.
        landed = RedirectResponse(f"{ACCOUNT_PATH}?done=reset", status_code=303)
        return _without_referrer(with_api_cookies(landed, response))
    if response.status_code == 429:
        errors, general = {}, [retry_later(response)]
    else:
        error = api_error(response)
        errors, general = error.by_field, error.general
    if "token" in errors:
        token = ""  # spent, expired or never issued: the page offers a new link instead
    status = 429 if response.status_code == 429 else 400
    return _reset_page(
        request, render, user, token=token, errors=errors, general=general, status_code=status
    )
