"""The auth routes of the HTTP contract. Thin: the account service does the work."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request, Response, status

from auth.models import User
from auth.passwords import BUSY
from auth.schemas import (
    CurrentUserOut,
    PasswordChange,
    ResetConfirmation,
    ResetRequest,
    SignInRequest,
    SignUpRequest,
    UserOut,
)
from auth.service import EMAIL_IN_USE, INVALID_CREDENTIALS, ResetRefused
from auth.wiring import Accounts, Wired
from tixcommon.addresses import client_address
from tixcommon.auth import (
    CurrentUser,
    RequireUser,
    SessionCodec,
    clear_session_cookie,
    session_codec,
    set_session_cookie,
)
from tixcommon.errors import BadRequest, ServiceUnavailable, TooManyRequests
from tixcommon.openapi import refusals
from tixcommon.routers import service_router

router = service_router("/api/users", tags=["users"])


Codec = Annotated[SessionCodec, Depends(session_codec)]


def _start_session(
    request: Request, response: Response, codec: SessionCodec, user: User
) -> UserOut:
    # Never before the account's line: a session begun in the second its earlier ones were
    # ended in must not be refused with them.
    token = codec.issue(
        str(user.id), user.email, now=max(int(time.time()), user.sessions_not_before)
    )
    set_session_cookie(response, request, token, max_age=codec.lifetime_seconds)
    return UserOut(id=str(user.id), email=user.email)


@router.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    responses=refusals(
        BadRequest(EMAIL_IN_USE, field="email"), ServiceUnavailable(BUSY, retry_after=1)
    ),
)
async def sign_up(
    body: SignUpRequest, request: Request, response: Response, accounts: Accounts, codec: Codec
) -> UserOut:
    user = await accounts.sign_up(body.email, body.password)
    return _start_session(request, response, codec, user)


@router.post(
    "/signin",
    responses=refusals(
        BadRequest(INVALID_CREDENTIALS),
        TooManyRequests(retry_after=60),
        ServiceUnavailable(BUSY, retry_after=1),
    ),
)
async def sign_in(
    body: SignInRequest,
    request: Request,
    response: Response,
    accounts: Accounts,
    codec: Codec,
    wired: Wired,
) -> UserOut:
    address = client_address(request, wired.settings.trusted_proxy_hops)
    user = await accounts.sign_in(body.email, body.password, address)
    return _start_session(request, response, codec, user)


@router.post("/signout")
async def sign_out(request: Request, response: Response) -> dict[str, str]:
    clear_session_cookie(response, request)
    return {}


@router.post(
    "/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    responses=refusals(TooManyRequests(retry_after=60)),
)
async def ask_password_reset(
    body: ResetRequest, request: Request, accounts: Accounts, wired: Wired
) -> dict[str, str]:
    address = client_address(request, wired.settings.trusted_proxy_hops)
    await accounts.ask_reset(body.email, address)
    return {}


@router.post(
    "/password-reset/confirm",
    responses=refusals(ResetRefused(), ServiceUnavailable(BUSY, retry_after=1)),
)
async def confirm_password_reset(
    body: ResetConfirmation,
    request: Request,
    response: Response,
    accounts: Accounts,
    codec: Codec,
) -> UserOut:
    user = await accounts.confirm_reset(body.token, body.password)
    return _start_session(request, response, codec, user)


@router.post(
    "/password",
    responses=refusals(
        BadRequest(INVALID_CREDENTIALS, field="currentPassword"),
        TooManyRequests(retry_after=60),
        ServiceUnavailable(BUSY, retry_after=1),
    ),
)
async def change_password(
    user: RequireUser,
    body: PasswordChange,
    request: Request,
    response: Response,
    accounts: Accounts,
    codec: Codec,
    wired: Wired,
) -> UserOut:
    address = client_address(request, wired.settings.trusted_proxy_hops)
    changed = await accounts.change_password(
        user.id, body.currentPassword, body.newPassword, address
    )
    return _start_session(request, response, codec, changed)


@router.post("/signout-everywhere")
async def sign_out_everywhere(
    user: RequireUser, request: Request, response: Response, accounts: Accounts
) -> dict[str, str]:
    await accounts.sign_out_everywhere(user.id)
    clear_session_cookie(response, request)
    return {}


@router.get("/currentuser", response_model=CurrentUserOut)
async def current_user(user: CurrentUser) -> Response:
    # Validated and serialised once, by the response model: handed the model, FastAPI would
    # validate it again before serialising it (a tenth of this route's own cost).
    body = CurrentUserOut.model_validate({"currentUser": user.model_dump() if user else None})
    return Response(body.model_dump_json(), media_type="application/json")
