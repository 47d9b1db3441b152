"""Accounts: creating them, checking credentials, and refusing guessing at speed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pymongo.errors import DuplicateKeyError

from auth.models import User
from tixcommon.errors import BadRequest
from tixcommon.ratelimit import AttemptLimiter

INVALID_CREDENTIALS = "Invalid credentials"


class PasswordHasher:
    """argon2id, run in a worker thread: a hash takes tens of milliseconds of CPU, which on the
    event loop would stall every other request."""

    def __init__(self) -> None:
        self._hash = PasswordHash((Argon2Hasher(),))
        # Verified against when the email is unknown, so both failures cost the same time.
        self._decoy = self._hash.hash("decoy password that matches nothing")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hash.hash, password)

    async def verify(self, password: str, password_hash: str | None) -> bool:
        return (
            await asyncio.to_thread(self._hash.verify, password, password_hash or self._decoy)
            and password_hash is not None
        )


@dataclass
class AccountService:
    hasher: PasswordHasher
    email_limiter: AttemptLimiter
    address_limiter: AttemptLimiter

    async def sign_up(self, email: str, password: str) -> User:
        user = User(email=email, password_hash=await self.hasher.hash(password))
        try:
            await user.insert()
        except DuplicateKeyError:
            raise BadRequest("Email in use", field="email") from None
        return user

    async def sign_in(self, email: str, password: str, client_address: str) -> User:
        email_key, address_key = f"email:{email}", f"address:{client_address}"
        await self.email_limiter.check(email_key)
        await self.address_limiter.check(address_key)
        user = await User.find_one(User.email == email)
        valid = await self.hasher.verify(password, user.password_hash if user else None)
        if user is None or not valid:
            await self.email_limiter.record_failure(email_key)
            await self.address_limiter.record_failure(address_key)
            raise BadRequest(INVALID_CREDENTIALS)
        await self.email_limiter.reset(email_key)
        return user
