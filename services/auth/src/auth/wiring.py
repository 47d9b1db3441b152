"""The auth service's collaborators, opened once by the lifespan and handed to its routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from auth.passwords import PasswordHasher
from auth.service import AccountService
from auth.settings import AuthSettings
from tixcommon.context import ServiceContext, wiring_dependency
from tixcommon.cpu import usable_cpus
from tixcommon.ratelimit import AttemptLimiter


@dataclass(frozen=True)
class Wiring:
    settings: AuthSettings
    accounts: AccountService


async def open_wiring(context: ServiceContext[AuthSettings]) -> Wiring:
    settings = context.settings
    attempts = AttemptLimiter(
        context.database["signin_attempts"], window_seconds=settings.signin_window_seconds
    )
    await attempts.ensure_indexes()
    hasher = PasswordHasher(
        workers=settings.password_hash_workers or usable_cpus(),
        max_wait_seconds=settings.password_hash_max_wait_seconds,
    )
    context.exit_stack.callback(hasher.pool.close)
    accounts = AccountService(
        hasher,
        attempts,
        max_failures_per_email=settings.signin_max_failures_per_email,
        max_failures_per_address=settings.signin_max_failures_per_address,
    )
    return Wiring(settings, accounts)


Wired = Annotated[Wiring, Depends(wiring_dependency(Wiring))]


async def _accounts(wiring: Wired) -> AccountService:
    return wiring.accounts


Accounts = Annotated[AccountService, Depends(_accounts)]
