"""A signed-in user's account: changing the password, and signing out on every device.

Both end every other session of the account (auth tells the fleet); a change answers with a
new session for this browser, which we hand on, and signing out everywhere ends this one too.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from webclient.api import api_error
from webclient.dependencies import Api, Render, SignedIn, SignInRequired
from webclient.pages.auth import retry_later, with_api_cookies
from webclient.schemas import CurrentUser

ACCOUNT_PATH = "/auth/account"

router = APIRouter(prefix=ACCOUNT_PATH)

FormText = Annotated[str, Form()]

# What a page that lands here may say (`?done=...`): fixed words, never text from the link.
NOTICES = {
    "reset": (
        "Your password has been changed. You are signed in; "
        "every other session has been signed out."
    ),
    "changed": "Password changed; every other session has been signed out.",
}


def _account_page(
    request: Request,
    render: Render,
    user: CurrentUser,
    *,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    general: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "title": "Your account",
        "notice": notice,
        "errors": errors or {},
        "general": general or [],
    }
    return render.render(request, "auth/account.html", context, user=user, status_code=status_code)


@router.get("", response_class=HTMLResponse)
async def account(request: Request, render: Render, user: SignedIn, done: str = "") -> Response:
    return _account_page(request, render, user, notice=NOTICES.get(done))


@router.post("/password", response_class=HTMLResponse)
async def change_password(
    request: Request,
    render: Render,
    api: Api,
    user: SignedIn,
    current_password: Annotated[str, Form(alias="currentPassword")] = "",
    new_password: Annotated[str, Form(alias="newPassword")] = "",
) -> Response:
    body = {"currentPassword": current_password, "newPassword": new_password}
    response = await api.send("POST", "/api/users/password", body)
    if response.status_code < 400:
        changed = RedirectResponse(f"{ACCOUNT_PATH}?done=changed", status_code=303)
        return with_api_cookies(changed, response)
    if response.status_code == 401:
        raise SignInRequired(ACCOUNT_PATH)  # the session ended meanwhile (elsewhere)
    if response.status_code == 429:
        errors, general = {}, [retry_later(response)]
    else:
        error = api_error(response)
        errors, general = error.by_field, error.general
    status = 429 if response.status_code == 429 else 400
    return _account_page(request, render, user, errors=errors, general=general, status_code=status)


@router.post("/signout-everywhere")
async def sign_out_everywhere(api: Api) -> Response:
    response = await api.send("POST", "/api/users/signout-everywhere")
    if response.status_code == 401:
        # Already signed out (here or by another device's sign-out): nothing more to end.
        return with_api_cookies(RedirectResponse("/auth/signin", status_code=303), response)
    if response.status_code >= 400:
        raise api_error(response)
    signed_out = RedirectResponse("/auth/signin?done=everywhere", status_code=303)
    return with_api_cookies(signed_out, response)
