"""The auth service's collaborators, opened once by the lifespan and handed to its routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from auth.service import AccountService, PasswordHasher
from auth.settings import AuthSettings
from tixcommon.context import ServiceContext, wiring_dependency
from tixcommon.ratelimit import AttemptLimiter


@dataclass(frozen=True)
class Wiring:
    settings: AuthSettings
    accounts: AccountService


async def open_wiring(context: ServiceContext[AuthSettings]) -> Wiring:
    settings = context.settings
    attempts = context.database["signin_attempts"]
    email_limiter = AttemptLimiter(
        attempts,
        limit=settings.signin_max_failures_per_email,
        window_seconds=settings.signin_window_seconds,
    )
    address_limiter = AttemptLimiter(
        attempts,
        limit=settings.signin_max_failures_per_address,
        window_seconds=settings.signin_window_seconds,
    )
    await email_limiter.ensure_indexes()
    return Wiring(settings, AccountService(PasswordHasher(), email_limiter, address_limiter))


Wired = Annotated[Wiring, Depends(wiring_dependency(Wiring))]


async def _accounts(wiring: Wired) -> AccountService:
    return wiring.accounts


Accounts = Annotated[AccountService, Depends(_accounts)]
