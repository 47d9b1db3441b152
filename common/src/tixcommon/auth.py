"""Sessions: the JWT cookie every service verifies locally, and the `CurrentUser` / `RequireUser`
dependencies routes use. No service ever calls auth to check a session.
"""

from __future__ import annotations

import functools
import time
from typing import Annotated

import jwt
from fastapi import Depends, Request, Response, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, ValidationError

from tixcommon.errors import NotAuthorized

SESSION_COOKIE = "session"
_ALGORITHM = "HS256"


class UserClaims(BaseModel):
    """Who is calling, as the session token says."""

    model_config = ConfigDict(frozen=True)

    id: str
    email: str
    iat: int
    exp: int


class SessionCodec:
    """Issues and verifies session tokens (HS256 with the shared JWT_KEY)."""

    def __init__(self, key: str, lifetime_seconds: int) -> None:
        self._key = key
        self.lifetime_seconds = lifetime_seconds
        # The same token bytes always verify the same way, so a recently seen one skips the
        # signature check (most of a signed-in request's own cost); its expiry is checked on
        # every use all the same. Bounded: junk tokens can only evict, not grow it.
        self._verified = functools.lru_cache(maxsize=4096)(self._verify)

    def issue(self, user_id: str, email: str, *, now: int | None = None) -> str:
        issued = int(time.time()) if now is None else now
        claims = {
            "id": user_id,
            "email": email,
            "iat": issued,
            "exp": issued + self.lifetime_seconds,
        }
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM)

    def decode(self, token: str) -> UserClaims | None:
        """The claims of a valid token; None for anything else (expired, tampered, garbage):
        a bad session means "signed out", never an error."""
        claims = self._verified(token)
        if claims is None or claims.exp <= time.time():
            return None
        return claims

    def _verify(self, token: str) -> UserClaims | None:
        try:
            claims = jwt.decode(
                token, self._key, algorithms=[_ALGORITHM], options={"require": ["exp", "iat"]}
            )
            return UserClaims.model_validate(claims)
        except (jwt.PyJWTError, ValidationError):
            return None


def is_https(request: Request) -> bool:
    """True when the client reached us over HTTPS, also through a TLS-terminating router."""
    forwarded = request.headers.get("x-forwarded-proto")
    if forwarded:
        return forwarded.split(",")[0].strip().lower() == "https"
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=is_https(request)
    )


# Every dependency here is a coroutine: FastAPI runs a plain `def` dependency in a worker
# thread, a hop that costs far more than the work (it cut GET /api/users/currentuser to a sixth
# of a bare endpoint's throughput; see docs/benchmarks.md).
async def session_codec(request: Request) -> SessionCodec:
    codec: SessionCodec = request.app.state.session_codec
    return codec


def _token_from(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.cookies.get(SESSION_COOKIE)


def session_user(request: Request) -> UserClaims | None:
    """The caller, from their session cookie or bearer token; None when signed out."""
    token = _token_from(request)
    codec: SessionCodec = request.app.state.session_codec
    return codec.decode(token) if token else None


async def current_user(request: Request) -> UserClaims | None:
    return session_user(request)


# Declared so that the OpenAPI documents name both ways to send a session (FastAPI documents a
# route's security from these); `session_user` reads them.
_SESSION_SCHEME = APIKeyCookie(
    name=SESSION_COOKIE,
    scheme_name="session",
    description="The session cookie that signing up or in sets",
    auto_error=False,
)
_BEARER_SCHEME = HTTPBearer(
    scheme_name="bearer",
    bearerFormat="JWT",
    description="The session cookie's value, sent as a bearer token",
    auto_error=False,
)


async def require_user(
    user: Annotated[UserClaims | None, Depends(current_user)],
    _cookie: Annotated[str | None, Security(_SESSION_SCHEME)],
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER_SCHEME)],
) -> UserClaims:
    if user is None:
        raise NotAuthorized()
    return user


CurrentUser = Annotated[UserClaims | None, Depends(current_user)]
RequireUser = Annotated[UserClaims, Depends(require_user)]
