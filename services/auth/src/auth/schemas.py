"""The request and response bodies of the auth routes."""

from __future__ import annotations

from typing import Annotated

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, WithJsonSchema

from tixcommon.fields import ANY, SPACE, WHITESPACE

PASSWORD_MIN, PASSWORD_MAX = 8, 128
GIVEN_PASSWORD_MAX = 1024  # a megabyte of "password" is refused before it costs an argon2 run
EMAIL_MAX = 254  # RFC 5321's longest path, which email_validator enforces


def _any_case(word: str) -> str:
    return "".join(f"[{letter.lower()}{letter.upper()}]" for letter in word)


# The reserved names (RFC 6761) email_validator refuses as a domain's last label.
_SPECIAL_USE = "|".join(_any_case(name) for name in SPECIAL_USE_DOMAIN_NAMES)
# Spelled with tixcommon.fields' classes so that ECMA-262 and Python's re read it alike.
EMAIL_PATTERN = rf"^(?!{ANY}*\.(?:{_SPECIAL_USE}){SPACE}*$)"
EMAIL_SCHEMA = {
    "type": "string",
    "format": "email",
    "maxLength": EMAIL_MAX,
    "pattern": EMAIL_PATTERN,
    "description": "Any case; a special-use domain (.test, .local, .invalid...) is refused",
    "examples": ["alice@example.com"],
}


def _email(value: str) -> str:
    try:
        address = validate_email(value.strip(WHITESPACE), check_deliverability=False)
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
    if len(value) > GIVEN_PASSWORD_MAX:
        raise ValueError("Password is too long")
    return value


Email = Annotated[str, AfterValidator(_email), WithJsonSchema(EMAIL_SCHEMA)]
NewPassword = Annotated[
    str,
    AfterValidator(_new_password),
    WithJsonSchema({"type": "string", "minLength": PASSWORD_MIN, "maxLength": PASSWORD_MAX}),
]
GivenPassword = Annotated[
    str,
    AfterValidator(_given_password),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": GIVEN_PASSWORD_MAX}),
]


class SignUpRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    email: Email
    password: NewPassword


class SignInRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    email: Email
    password: GivenPassword


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


class ResetRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    email: Email


ResetToken = Annotated[
    str,
    StringConstraints(min_length=1, max_length=256),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": 256,
            "description": "The `token` of the reset link's query",
        }
    ),
]


class ResetConfirmation(BaseModel):
    model_config = ConfigDict(extra="ignore")

    token: ResetToken
    password: NewPassword


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="ignore")

    currentPassword: GivenPassword  # noqa: N815 - the contract's field name
    newPassword: NewPassword  # noqa: N815 - the contract's field name
