"""Every way a request can fail, rendered in the contract's one error shape."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from tixcommon.errors import (
    AppError,
    BadRequest,
    ErrorItem,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)
from tixcommon.methods import allowed_methods
from tixcommon.outages import OUTAGE_ERRORS

logger = logging.getLogger(__name__)

_BODY_NOT_OBJECT = {"model_attributes_type", "dict_type", "model_type"}


def validation_items(errors: Sequence[Any]) -> list[ErrorItem]:
    items: list[ErrorItem] = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        if loc and loc[0] in {"body", "path", "query", "header", "cookie"}:
            loc = loc[1:]
        field = ".".join(loc) or None
        kind = error.get("type", "")
        if kind == "json_invalid":
            items.append(ErrorItem(message="Malformed JSON in request body"))
        elif field is None and kind == "missing":
            items.append(ErrorItem(message="Request body is required"))
        elif field is None and kind in _BODY_NOT_OBJECT:
            items.append(ErrorItem(message="Request body must be a JSON object"))
        elif kind == "missing":
            items.append(ErrorItem(message=f"{field} is required", field=field))
        else:
            message = str(error.get("msg", "Invalid value")).removeprefix("Value error, ")
            items.append(ErrorItem(message=message, field=field))
    # One entry per failing field: the first reason given for each is the clearest.
    seen: set[str | None] = set()
    unique = []
    for item in items:
        if item.field not in seen:
            seen.add(item.field)
            unique.append(item)
    return unique


def render(error: AppError) -> Response:
    headers = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return Response(
        orjson.dumps(error.body().to_json()),
        status_code=error.status_code,
        headers=headers,
        media_type="application/json",
    )


def install_error_handlers(app: FastAPI) -> None:
    async def on_app_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, AppError)
        return render(exc)

    async def on_validation_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return render(ValidationFailed(validation_items(exc.errors())))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return render(NotFound())
        if exc.status_code == 405:
            allow = allowed_methods(request)
            if request.method == "OPTIONS":  # no route declares it: every path answers it here
                return Response(status_code=204, headers={"Allow": allow})
            refused = render(MethodNotAllowed())
            refused.headers["Allow"] = allow
            return refused
        if exc.status_code == 400:
            return render(BadRequest("Malformed request body"))
        error = AppError(str(exc.detail))
        error.status_code = exc.status_code
        return render(error)

    async def on_dependency_down(request: Request, exc: Exception) -> Response:
        logger.warning(
            "dependency unavailable",
            extra={"path": request.url.path, "error": f"{type(exc).__name__}: {exc}"},
        )
        return render(ServiceUnavailable())

    app.add_exception_handler(AppError, on_app_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    # A dependency's outage, not a bug: the request changed nothing and may be retried.
    for error_type in OUTAGE_ERRORS:
        if not issubclass(error_type, AppError):
            app.add_exception_handler(error_type, on_dependency_down)
