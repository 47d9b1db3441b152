from __future__ import annotations

from datetime import UTC, datetime

from beanie import Document
from pydantic import Field
from pymongo import IndexModel


class User(Document):
    email: str
    password_hash: str
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    # Sessions issued before this (epoch seconds, their `iat`) were ended by a reset, a
    # password change or signing out everywhere; every session issued later starts here.
    sessions_not_before: int = 0

    class Settings:
        name = "users"
        # Uniqueness is the database's job: it holds however many sign-ups race.
        indexes = [IndexModel("email", unique=True, name="email_unique")]


class PasswordReset(Document):
    """One asked-for reset, for any address asked (an unknown one too: the request's work is
    the same for both). Its token is derived from its id when the mail is sent, never stored:
    only the token's hash is, to find the reset when the link comes back."""

    email: str
    token_hash: str
    requested_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    class Settings:
        name = "password_resets"
        indexes = [
            IndexModel("token_hash", unique=True, name="token_hash_unique"),
            IndexModel([("email", 1), ("used_at", 1)], name="email_open"),
            # Kept a day past expiry (what a support question needs), then dropped.
            IndexModel("expires_at", expireAfterSeconds=86400, name="expires_ttl"),
        ]
