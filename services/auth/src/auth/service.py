"""Accounts: creating them, checking credentials, and refusing guessing at speed."""

from __future__ import annotations

from dataclasses import dataclass

from pymongo.errors import DuplicateKeyError

from auth.metrics import SIGNIN_FAILURES
from auth.models import User
from auth.passwords import PasswordHasher
from tixcommon.errors import BadRequest
from tixcommon.ratelimit import AttemptLimiter

INVALID_CREDENTIALS = "Invalid credentials"
EMAIL_IN_USE = "Email in use"


@dataclass
class AccountService:
    hasher: PasswordHasher
    attempts: AttemptLimiter
    max_failures_per_email: int
    max_failures_per_address: int

    async def sign_up(self, email: str, password: str) -> User:
        async with self.hasher.pool.slot():
            password_hash = await self.hasher.hash(password)
        user = User(email=email, password_hash=password_hash)
        try:
            await user.insert()
        except DuplicateKeyError:
            raise BadRequest(EMAIL_IN_USE, field="email") from None
        return user

    async def sign_in(self, email: str, password: str, client_address: str) -> User:
        # A place on the hashing pool first: a sign-in refused for want of one costs nothing.
        async with self.hasher.pool.slot():
            return await self._sign_in(email, password, client_address)

    async def _sign_in(self, email: str, password: str, client_address: str) -> User:
        email_key, address_key = f"email:{email}", f"address:{client_address}"
        failed = await self.attempts.check(
            {email_key: self.max_failures_per_email, address_key: self.max_failures_per_address}
        )
        user = await User.find_one(User.email == email)
        valid, rehashed = await self.hasher.verify(password, user.password_hash if user else None)
        if user is None or not valid:
            await self.attempts.record_failure(email_key, address_key)
            SIGNIN_FAILURES.inc()
            raise BadRequest(INVALID_CREDENTIALS)
        if email_key in failed:
            # The account's owner got in: forgive its failures (never the address's).
            await self.attempts.reset(email_key)
        if rehashed is not None:
            # Only if it is still the hash we verified: a concurrent change of it wins.
            await User.find_one(
                User.id == user.id, User.password_hash == user.password_hash
            ).update({"$set": {"password_hash": rehashed}})
        return user
