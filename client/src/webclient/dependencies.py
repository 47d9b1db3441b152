"""What page handlers receive: the API on the caller's behalf, the renderer, the user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tixcommon.addresses import client_address
from tixcommon.logging import current_request_id
from webclient.api import SESSION_COOKIE, ApiSession, Backend
from webclient.rendering import Pages
from webclient.schemas import CurrentUser
from webclient.settings import ClientSettings


class SignInRequired(Exception):
    """The page needs a signed-in user: they are sent to sign in, and brought back after."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


async def _pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


def _settings(request: Request) -> ClientSettings:
    settings: ClientSettings = request.app.state.settings
    return settings


async def api_session(request: Request) -> ApiSession:
    backend: Backend = request.app.state.backend
    settings = _settings(request)
    headers = {
        # The services see the browser's address, scheme and host, as if it had called them
        # through the router itself: rate limits and the cookie's Secure flag depend on them.
        "x-forwarded-for": client_address(request, settings.trusted_proxy_hops),
        "x-forwarded-proto": request.headers.get("x-forwarded-proto", request.url.scheme),
        "x-forwarded-host": request.headers.get("x-forwarded-host")
        or request.headers.get("host", ""),
    }
    if request_id := current_request_id():
        headers["x-request-id"] = request_id
    return ApiSession(backend, request.cookies.get(SESSION_COOKIE), headers)


Api = Annotated[ApiSession, Depends(api_session)]
Render = Annotated[Pages, Depends(_pages)]


async def _maybe_user(api: Api) -> CurrentUser | None:
    return await api.current_user()


async def _signed_in_user(request: Request, api: Api) -> CurrentUser:
    user = await api.current_user()
    if user is None:
        raise SignInRequired(request.url.path)
    return user


MaybeUser = Annotated[CurrentUser | None, Depends(_maybe_user)]
SignedIn = Annotated[CurrentUser, Depends(_signed_in_user)]
