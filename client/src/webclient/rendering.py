"""Turning a template and its data into a page: the signed-in user, the CSRF token, and
cache-busted static URLs are in every page."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from webclient.schemas import CurrentUser
from webclient.security import CSRF_FIELD, csrf_token, set_csrf_cookie
from webclient.settings import ClientSettings

PACKAGE = Path(__file__).parent
STATIC_DIR = PACKAGE / "static"
TEMPLATES_DIR = PACKAGE / "templates"


@cache
def _fingerprint(name: str) -> str:
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """A static file's URL with its content hash, so it can be cached for a year and a new
    release is fetched at once."""
    return f"/static/{name}?v={_fingerprint(name)}"


def money(price: Decimal) -> str:
    return f"${price:,.2f}"


def when(moment: datetime) -> str:
    """An event's start, unambiguous wherever it is read: in UTC, and saying so."""
    return moment.astimezone(UTC).strftime("%a %d %b %Y, %H:%M UTC")


def clock(moment: datetime) -> str:
    """A moment within the next minutes, to the second: when a buyer's turn ends."""
    return moment.astimezone(UTC).strftime("%H:%M:%S UTC")


def remaining(expires_at: datetime, left: str = "left to pay", ended: str = "Order expired") -> str:
    """What a countdown shows before its script runs (and without one): as app.js counts."""
    seconds = int((expires_at - datetime.now(UTC)).total_seconds())
    if seconds <= 0:
        return ended
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds:02d} s {left}" if minutes else f"{seconds} s {left}"


def wait(seconds: int) -> str:
    """A waiting room's estimate, as roughly as an estimate is (app.js words it the same)."""
    if seconds <= 0:
        return "any moment now"
    if seconds < 60:
        return "less than a minute"
    hours, minutes = divmod(math.ceil(seconds / 60), 60)
    if not hours:
        return f"about {minutes} min"
    return f"about {hours} h {minutes} min" if minutes else f"about {hours} h"


class ImmutableStatic(StaticFiles):
    """Static files are requested by content hash (`static_url`), so they never change."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["cache-control"] = "public, max-age=31536000, immutable"
        return response


class Pages:
    def __init__(self, settings: ClientSettings) -> None:
        self.templates = Jinja2Templates(directory=TEMPLATES_DIR)
        env = self.templates.env
        env.globals.update(
            static_url=static_url,
            csrf_field=CSRF_FIELD,
            stripe_js_url=settings.stripe_js_url,
            stripe_key=settings.stripe_publishable_key,
        )
        env.filters.update(clock=clock, money=money, remaining=remaining, wait=wait, when=when)

    def render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any] | None = None,
        *,
        user: CurrentUser | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        token, new = csrf_token(request)
        response = self.templates.TemplateResponse(
            request,
            template,
            {"user": user, "csrf_token": token, **(context or {})},
            status_code=status_code,
        )
        response.headers["cache-control"] = "no-store"  # pages carry the user's own data
        if new:
            set_csrf_cookie(response, request, token)
        return response
