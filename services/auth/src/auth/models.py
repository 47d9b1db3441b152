from __future__ import annotations

from datetime import UTC, datetime

from beanie import Document
from pydantic import Field
from pymongo import IndexModel


class User(Document):
    email: str
    password_hash: str
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    class Settings:
        name = "users"
        # Uniqueness is the database's job: it holds however many sign-ups race.
        indexes = [IndexModel("email", unique=True, name="email_unique")]
