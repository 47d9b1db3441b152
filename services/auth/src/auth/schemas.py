"""The request and response bodies of the auth routes."""

from __future__ import annotations

from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict

PASSWORD_MIN, PASSWORD_MAX = 8, 128


def _email(value: str) -> str:
    try:
        address = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        raise ValueError("Email must be valid") from None
    # Stored and compared lower-cased: Alice@x.com and alice@x.com are one account.
    return address.normalized.lower()


def _new_password(value: str) -> str:
    if not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
        raise ValueError(f"Password must be between {PASSWORD_MIN} and {PASSWORD_MAX} characters")
    return value


def _given_password(value: str) -> str:
    if not value:
        raise ValueError("You must supply a password")
    # A megabyte of "password" is refused before it costs an argon2 run.
    if len(value) > 1024:
        raise ValueError("Password is too long")
    return value


Email = Annotated[str, AfterValidator(_email)]


class SignUpRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    email: Email
    password: Annotated[str, AfterValidator(_new_password)]


class SignInRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    email: Email
    password: Annotated[str, AfterValidator(_given_password)]


class UserOut(BaseModel):
    id: str
    email: str


class CurrentUserClaims(BaseModel):
    id: str
    email: str
    iat: int
    exp: int


class CurrentUserOut(BaseModel):
    currentUser: CurrentUserClaims | None  # noqa: N815 - the contract's field name
