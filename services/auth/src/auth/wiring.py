"""The auth service's collaborators, opened once by the lifespan and handed to its routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends

from auth.passwords import PasswordHasher
from auth.reset_mail import PASSWORD_RESET, ResetMail
from auth.reset_tokens import ResetTokens
from auth.service import AccountService, Limits
from auth.settings import AuthSettings
from tixcommon.context import ServiceContext, wiring_dependency
from tixcommon.cpu import usable_cpus
from tixcommon.mail import running_mail
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
    tokens = ResetTokens(settings.jwt_key.get_secret_value())
    lifetime = timedelta(seconds=settings.password_reset_lifetime_seconds)
    mail = ResetMail(tokens, settings.public_url, int(lifetime.total_seconds()) // 60)
    relay = await context.exit_stack.enter_async_context(
        running_mail(
            context.database,
            {PASSWORD_RESET: mail.render},
            settings,
            sample_seconds=settings.metrics_sample_seconds,
        )
    )
    accounts = AccountService(
        hasher,
        attempts,
        Limits(
            signin_failures_per_email=settings.signin_max_failures_per_email,
            signin_failures_per_address=settings.signin_max_failures_per_address,
            resets_per_email=settings.password_reset_max_per_email,
            resets_per_address=settings.password_reset_max_per_address,
        ),
        context.require_outbox(),
        relay,
        tokens,
        lifetime,
    )
    return Wiring(settings, accounts)


Wired = Annotated[Wiring, Depends(wiring_dependency(Wiring))]


async def _accounts(wiring: Wired) -> AccountService:
    return wiring.accounts


Accounts = Annotated[AccountService, Depends(_accounts)]
