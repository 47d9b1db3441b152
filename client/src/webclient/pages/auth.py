"""Sign up, sign in, sign out: the API sets the session cookie, we hand it to the browser.
What the other account pages share is here too: the API's cookies handed on, a refusal for
too many attempts worded with its Retry-After."""

from __future__ import annotations

import math
from typing import Annotated

import httpx
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from webclient.api import api_error
from webclient.dependencies import Api, MaybeUser, Render

router = APIRouter(prefix="/auth")

FormText = Annotated[str, Form()]

# What a page that sends the visitor to sign in may say there (`/auth/signin?done=...`): fixed
# words, so a link cannot make the page say anything else.
SIGN_IN_NOTICES = {"everywhere": "You have been signed out on every device."}


def safe_next(target: str | None) -> str:
    """Only a path on this site: `next=https://evil.example` must not redirect away."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def with_api_cookies(response: Response, upstream: httpx.Response) -> Response:
    """`response` with the session cookie the API set or cleared, for the browser to keep."""
    for cookie in upstream.headers.get_list("set-cookie"):
        response.headers.append("set-cookie", cookie)
    return response


def retry_later(upstream: httpx.Response) -> str:
    """A 429's message, in whole minutes from its Retry-After (seconds, as our API sends it)."""
    try:
        seconds = int(upstream.headers.get("retry-after", ""))
    except ValueError:
        return "Too many requests, try again later."
    minutes = max(1, math.ceil(seconds / 60))
    return f"Too many requests, try again in {minutes} minute{'' if minutes == 1 else 's'}."


def _credentials_page(mode: str) -> None:
    title = "Sign up" if mode == "signup" else "Sign in"

    async def show(
        request: Request, render: Render, user: MaybeUser, next: str = "/", done: str = ""
    ) -> Response:
        if user is not None:
            return RedirectResponse(safe_next(next), status_code=303)
        context = {
            "title": title,
            "mode": mode,
            "email": "",
            "next": safe_next(next),
            "notice": SIGN_IN_NOTICES.get(done) if mode == "signin" else None,
        }
        return render.render(request, "auth/credentials.html", context, user=user)

    async def submit(
        request: Request,
        render: Render,
        api: Api,
        email: FormText = "",
        password: FormText = "",
        next: FormText = "/",
    ) -> Response:
        response = await api.send(
            "POST", f"/api/users/{mode}", {"email": email, "password": password}
        )
        if response.status_code < 400:
            return with_api_cookies(RedirectResponse(safe_next(next), status_code=303), response)
        error = api_error(response)
        context = {
            "title": title,
            "mode": mode,
            "email": email,
            "next": safe_next(next),
            "errors": error.by_field,
            "general": error.general,
        }
        status = 429 if response.status_code == 429 else 400
        return render.render(request, "auth/credentials.html", context, status_code=status)

    router.add_api_route(f"/{mode}", show, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route(f"/{mode}", submit, methods=["POST"], response_class=HTMLResponse)


_credentials_page("signup")
_credentials_page("signin")


@router.get("/signout", response_class=HTMLResponse)
async def confirm_signout(request: Request, render: Render, user: MaybeUser) -> Response:
    if user is None:
        return RedirectResponse("/", status_code=303)
    return render.render(request, "auth/signout.html", {"title": "Sign out"}, user=user)


@router.post("/signout")
async def signout(api: Api) -> Response:
    response = await api.send("POST", "/api/users/signout")
    return with_api_cookies(RedirectResponse("/", status_code=303), response)
