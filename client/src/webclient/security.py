"""CSRF protection for every form post, and the security headers of every page.

CSRF uses the double-submit pattern: a random token in a `csrftoken` cookie (SameSite=Strict,
HttpOnly) and in a hidden field of every form; a post is accepted only when both are present and
equal, and, when the browser says where the post came from (Origin or Referer), only from our own
host. A cross-site page can make the browser post, but can neither read our cookie nor set it.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from fastapi import Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_COOKIE = "csrftoken"
CSRF_FIELD = "csrf_token"
_TOKEN_BYTES = 32


class CsrfRejected(Exception):
    """A form post without a valid token: shown as an expired form, never processed."""


def is_https(request: Request) -> bool:
    proto = request.headers.get("x-forwarded-proto", request.url.scheme)
    return proto.split(",")[0].strip().lower() == "https"


def csrf_token(request: Request) -> tuple[str, bool]:
    """The caller's token, and whether it is new (and must be set as a cookie)."""
    existing = request.cookies.get(CSRF_COOKIE, "")
    if 20 <= len(existing) <= 100:
        return existing, False
    return secrets.token_urlsafe(_TOKEN_BYTES), True


def set_csrf_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=is_https(request),
        path="/",
    )


async def verify_csrf(request: Request) -> None:
    """A dependency of every page route: posts must carry the caller's token."""
    if request.method != "POST":
        return
    origin = request.headers.get("origin") or request.headers.get("referer")
    host = request.headers.get("x-forwarded-host") or request.headers.get("host")
    if origin and origin != "null" and urlsplit(origin).netloc != host:
        raise CsrfRejected("cross-origin post")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    form = await request.form()
    submitted = form.get(CSRF_FIELD)
    if not cookie or not isinstance(submitted, str):
        raise CsrfRejected("missing token")
    if not secrets.compare_digest(cookie.encode(), submitted.encode()):
        raise CsrfRejected("token mismatch")


class SecurityHeaders:
    """Adds the headers every page wants: a strict CSP (our own scripts and Stripe's only),
    no framing, no sniffing, no referrer beyond our origin, the camera for our own pages only.
    A page may send a stricter one of these itself (the reset page's `no-referrer`): the
    page's own is kept, since a second header of the same name would be read last-one-wins.

    The Scan page needs nothing more of the CSP: its decoder is one of our static scripts
    ('self'), the camera's stream is given to its <video> as an object (srcObject), not fetched
    from a URL, and its frames are decoded in a canvas."""

    def __init__(self, app: ASGIApp, *, stripe_origins: list[str]) -> None:
        self.app = app
        stripe = " ".join(stripe_origins)
        policy = (
            "default-src 'self'; "
            f"script-src 'self' {stripe}; "
            f"connect-src 'self' {stripe}; "
            f"frame-src {stripe}; "
            # ALTCHA's widget solves the waiting room's proof of work in Web Workers started
            # from its worker.js, one of our static files (said here, not left to fall back to
            # script-src).
            "worker-src 'self'; "
            "img-src 'self' data:; "
            "style-src 'self'; "
            "form-action 'self'; "
            "frame-ancestors 'none'; "
            "base-uri 'none'; "
            "object-src 'none'"
        )
        self.headers = [
            (b"content-security-policy", policy.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
            # The seller's Scan page uses the camera, from our own pages only: never a frame
            # (Stripe's card field), and nothing asks for the microphone.
            (b"permissions-policy", b"camera=(self), microphone=()"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = message.get("headers", [])
                named = {name.lower() for name, _ in own}
                added = [header for header in self.headers if header[0] not in named]
                message = {**message, "headers": [*own, *added]}
            await send(message)

        await self.app(scope, receive, with_headers)
