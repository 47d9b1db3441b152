"""Errors that carry their HTTP status, and the one body shape every error is rendered in.

Business code raises these; `tixcommon.error_handlers` renders them (and every other failure)
as `{"errors": [{"message": ..., "field": ...}]}`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ErrorItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    errors: list[ErrorItem]

    def to_json(self) -> dict[str, list[dict[str, str]]]:
        return {"errors": [item.model_dump(exclude_none=True) for item in self.errors]}


class AppError(Exception):
    """An error with a status and a message users may read."""

    status_code = 500
    default_message = "Something went wrong"

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.field = field
        # Seconds after which a retry may succeed (429, 503): sent as Retry-After.
        self.retry_after = retry_after
        super().__init__(self.message)

    @property
    def items(self) -> list[ErrorItem]:
        return [ErrorItem(message=self.message, field=self.field)]

    def body(self) -> ErrorBody:
        return ErrorBody(errors=self.items)


class BadRequest(AppError):
    status_code = 400
    default_message = "Bad request"


class ValidationFailed(BadRequest):
    """Several fields at fault at once."""

    def __init__(self, items: list[ErrorItem]) -> None:
        super().__init__(items[0].message if items else "Invalid request")
        self._items = items

    @property
    def items(self) -> list[ErrorItem]:
        return self._items


class NotAuthorized(AppError):
    status_code = 401
    default_message = "Not authorized"


class Forbidden(AppError):
    status_code = 403
    default_message = "Forbidden"


class NotFound(AppError):
    status_code = 404
    default_message = "Not Found"


class MethodNotAllowed(AppError):
    status_code = 405
    default_message = "Method not allowed"


class Conflict(AppError):
    status_code = 409
    default_message = "Conflict"


class PayloadTooLarge(AppError):
    status_code = 413
    default_message = "Request body is too large"


class TooManyRequests(AppError):
    status_code = 429
    default_message = "Too many attempts, try again later"


class ServiceUnavailable(AppError):
    status_code = 503
    default_message = "Service unavailable, try again shortly"
