"""Sign up, sign in, sign out: the API sets the session cookie, we hand it to the browser."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from webclient.api import api_error
from webclient.dependencies import Api, MaybeUser, Render

router = APIRouter(prefix="/auth")

FormText = Annotated[str, Form()]


def safe_next(target: str | None) -> str:
    """Only a path on this site: `next=https://evil.example` must not redirect away."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def _with_cookies(response: Response, upstream_headers: list[str]) -> Response:
    for cookie in upstream_headers:
        response.headers.append("set-cookie", cookie)
    return response


def _credentials_page(mode: str) -> None:
    title = "Sign up" if mode == "signup" else "Sign in"

    async def show(request: Request, render: Render, user: MaybeUser, next: str = "/") -> Response:
        if user is not None:
            return RedirectResponse(safe_next(next), status_code=303)
        context = {"title": title, "mode": mode, "email": "", "next": safe_next(next)}
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
            return _with_cookies(
                RedirectResponse(safe_next(next), status_code=303),
                response.headers.get_list("set-cookie"),
            )
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
    return _with_cookies(
        RedirectResponse("/", status_code=303), response.headers.get_list("set-cookie")
    )
