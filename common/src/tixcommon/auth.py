"""Sessions: the JWT cookie every service verifies locally, and the `CurrentUser` / `RequireUser`
dependencies routes use. No service ever calls auth to check a session.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import time
from typing import Annotated, Any

import jwt
import orjson
from fastapi import Depends, Request, Response
from fastapi.security import APIKeyCookie, HTTPBearer
from fastapi.security.base import SecurityBase
from jwt.algorithms import HMACAlgorithm
from pydantic import BaseModel, ConfigDict, ValidationError

from tixcommon.errors import NotAuthorized
from tixcommon.revocations import RevokedSessions

SESSION_COOKIE = "session"
_ALGORITHM = "HS256"
# The header segment of every token `issue` writes: PyJWT's {"alg":"HS256","typ":"JWT"}.
ISSUED_HEADER = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
_ISSUED_CLAIMS = frozenset({"id", "email", "iat", "exp"})

# Verified tokens kept per process: far more sessions than one process sees in rotation at once
# (make bench rotates 20,000). Each costs about 0.9 KiB of resident memory (the token, its
# claims, the cache's entry): auth's grew 5 MiB with 5,000 sessions, 21 MiB with 20,000 and
# 28 MiB full. A token longer than _CACHED_TOKEN_MAX is never kept (ours are 200 to 600
# characters), so junk tokens can hold at most about 40 MiB, and can only evict.
VERIFIED_CACHE_SIZE = 32_768
_CACHED_TOKEN_MAX = 1024
# How far ahead of this host's clock a session's `iat` may be: the session a password change
# answers with is issued at its account's new line (the next second, or one past the last
# line: several changes in one second each end the session before), and hosts' clocks differ a
# little.
ISSUED_AHEAD_SECONDS = 5


class UserClaims(BaseModel):
    """Who is calling, as the session token says."""

    model_config = ConfigDict(frozen=True)

    id: str
    email: str
    iat: int
    exp: int


class SessionCodec:
    """Issues and verifies session tokens (HS256 with the shared JWT_KEY)."""

    def __init__(
        self, key: str, lifetime_seconds: int, revoked: RevokedSessions | None = None
    ) -> None:
        self._key = key
        self.lifetime_seconds = lifetime_seconds
        # Accounts whose earlier sessions were ended (tixcommon.revocations): kept fed by the
        # service, asked on every use.
        self.revoked = RevokedSessions(lifetime_seconds) if revoked is None else revoked
        try:
            self._mac_key: bytes | None = HMACAlgorithm(HMACAlgorithm.SHA256).prepare_key(key)
        except jwt.InvalidKeyError:
            self._mac_key = None  # PyJWT refuses the key itself, so it refuses every token
        # The same token bytes always verify the same way, so a recently seen one skips the
        # signature check (most of a signed-in request's own cost); its expiry is checked on
        # every use all the same. Bounded: junk tokens can only evict, not grow it.
        self._verified = functools.lru_cache(maxsize=VERIFIED_CACHE_SIZE)(self._verify)

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
        """The claims of a valid token; None for anything else (expired, not yet valid,
        tampered, garbage): a bad session means "signed out", never an error."""
        claims = self._verified(token) if len(token) <= _CACHED_TOKEN_MAX else self._verify(token)
        if claims is None:
            return None
        # Time moves, the token does not: checked on every use, as PyJWT checks them. So is
        # revocation, which comes later than the token.
        now = time.time()
        if claims.exp <= now or claims.iat > now + ISSUED_AHEAD_SECONDS:
            return None
        if self.revoked.refuses(claims.id, claims.iat):
            return None
        return claims

    def _verify(self, token: str) -> UserClaims | None:
        return self.verify_issued(token) or self._verify_with_pyjwt(token)

    def verify_issued(self, token: str) -> UserClaims | None:
        """The claims of a token shaped exactly as `issue` writes it (our header, the four
        claims with their JSON types, canonical base64url) and signed with our key, whatever
        its times; None for anything else. Such a token is one PyJWT accepts with the same
        claims, once its times are valid; anything this does not accept is left to PyJWT,
        so a refusal is always PyJWT's. A fifth of PyJWT's cost: no JSON header to parse,
        no key checks per token, one HMAC compared in its encoded form."""
        if self._mac_key is None:
            return None
        try:
            raw = token.encode("ascii")
            header, payload, signature = raw.split(b".")
        except (UnicodeEncodeError, ValueError):
            return None
        if header != ISSUED_HEADER:
            return None
        mac = hmac.digest(self._mac_key, raw[: len(header) + 1 + len(payload)], "sha256")
        # Equal to the canonical unpadded encoding of the MAC: PyJWT decodes the segment to
        # exactly that MAC. Compared in constant time.
        if not hmac.compare_digest(_b64url_encode(mac), signature):
            return None
        decoded = _b64url_decode_canonical(payload)
        if decoded is None:
            return None
        try:
            claims: Any = orjson.loads(decoded)
        except orjson.JSONDecodeError:
            return None
        # Exact types (no bool for an int, no float for a large one), and no other claim: what
        # json.loads would read the same and PyJWT has nothing more to check in.
        if not (
            type(claims) is dict
            and claims.keys() == _ISSUED_CLAIMS
            and type(claims["id"]) is str
            and type(claims["email"]) is str
            and type(claims["iat"]) is int
            and type(claims["exp"]) is int
        ):
            return None
        return UserClaims.model_validate(claims)

    def _verify_with_pyjwt(self, token: str) -> UserClaims | None:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                options={"require": ["exp", "iat"]},
                leeway=ISSUED_AHEAD_SECONDS,
            )
            return UserClaims.model_validate(claims)
        except (jwt.PyJWTError, ValidationError):
            return None


def _b64url_encode(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _b64url_decode_canonical(segment: bytes) -> bytes | None:
    """The bytes of an unpadded base64url segment in its one canonical spelling (what PyJWT
    accepts, less the padding it tolerates); None for any other."""
    try:
        decoded = base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))
    except binascii.Error:
        return None
    # The decoder skips characters outside the alphabet and ignores stray low bits; encoding
    # back is what proves there were none.
    return decoded if _b64url_encode(decoded) == segment else None


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
    scheme, _, credentials = _authorization(request).partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.cookies.get(SESSION_COOKIE)


def _authorization(request: Request) -> str:
    # The first Authorization header, as `request.headers.get` finds it, without the KeyError
    # that lookup raises and catches when there is none (a cookie's every request).
    for name, value in request.scope["headers"]:
        if name == b"authorization":
            return str(value.decode("latin-1"))
    return ""


def session_user(request: Request) -> UserClaims | None:
    """The caller, from their session cookie or bearer token; None when signed out."""
    token = _token_from(request)
    codec: SessionCodec = request.app.state.session_codec
    return codec.decode(token) if token else None


async def current_user(request: Request) -> UserClaims | None:
    return session_user(request)


# The two ways to send a session, as the OpenAPI documents name them: tixcommon.openapi lists
# both on every route that depends on `require_user`; `session_user` reads them.
SESSION_SCHEMES: tuple[SecurityBase, ...] = (
    APIKeyCookie(
        name=SESSION_COOKIE,
        scheme_name="session",
        description="The session cookie that signing up or in sets",
        auto_error=False,
    ),
    HTTPBearer(
        scheme_name="bearer",
        bearerFormat="JWT",
        description="The session cookie's value, sent as a bearer token",
        auto_error=False,
    ),
)


async def require_user(request: Request) -> UserClaims:
    # One dependency, not the session beside both schemes as dependencies of their own (which
    # is how FastAPI would document them): FastAPI solves each dependency for about 10 us of
    # CPU, and those two were three quarters of what a protected route spent on its session.
    user = session_user(request)
    if user is None:
        raise NotAuthorized()
    return user


CurrentUser = Annotated[UserClaims | None, Depends(current_user)]
RequireUser = Annotated[UserClaims, Depends(require_user)]
