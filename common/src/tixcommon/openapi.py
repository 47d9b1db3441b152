"""The OpenAPI document as the services really answer.

FastAPI documents a 422 with its own validation-error body for every route with parameters, but
our services answer bad input with 400 and `{"errors": [{"message", "field"?}]}` (the HTTP
contract), and may answer any route with 413, 429 or 503 in that same shape. The document says
so, names the sessions a protected route takes (the `session` cookie or a bearer token) and its
401, and lists, with examples, the refusals a route makes for reasons its schema cannot state
(an email already in use, seats already taken): those come from the route's `refusals(...)`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.utils import get_openapi

from tixcommon.auth import SESSION_SCHEMES
from tixcommon.errors import AppError, BadRequest, ErrorBody, NotAuthorized
from tixcommon.idempotency import KEY_HEADER, REPLAYED_HEADER, REUSED_KEY

_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds after which a retry may succeed",
        "schema": {"type": "integer", "minimum": 0},
    }
}
_REASONS = {
    400: "Bad request: the input is invalid, or refused for the reason given",
    401: "Not signed in, or not the owner",
    403: "Signed in, but not allowed this, for the reason given",
    404: "Not found",
    409: "In conflict with what was done before, for the reason given",
    413: "The body is too large",
    429: "Too many requests",
    503: "A dependency is unavailable; nothing changed, and a retry may succeed",
}


def _error_response(status: int, errors: Sequence[AppError] = ()) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _REASONS.get(status, "An error"),
        "content": {"application/json": {"schema": _ERROR_REF}},
    }
    if status in (429, 503):
        response["headers"] = _RETRY_AFTER
    _add_examples(response, *errors)
    return response


def _add_examples(response: dict[str, Any], *errors: AppError) -> None:
    if errors:
        media = response["content"]["application/json"]
        examples = media.setdefault("examples", {})
        examples.update({error.message: {"value": error.body().to_json()} for error in errors})


def refusals(*errors: AppError) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=`: the errors it answers for reasons its schema cannot state, each
    an example of its status (`refusals(BadRequest("Email in use", field="email"))`)."""
    by_status: dict[int, list[AppError]] = defaultdict(list)
    for error in errors:
        by_status[error.status_code].append(error)
    return {status: _error_response(status, listed) for status, listed in by_status.items()}


def contract_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
    components: dict[str, Any] = schema.setdefault("components", {})
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    defs = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(defs.pop("$defs", {}))
    schemas["ErrorBody"] = defs
    _name_sessions(schema)
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            _complete(operation)
    app.openapi_schema = schema
    return schema


def _name_sessions(schema: dict[str, Any]) -> None:
    """The components for the session schemes the operations name (`AuthFirstRoute` names both
    on every route that requires a session), as FastAPI states a security dependency's."""
    named = {
        name
        for operations in schema.get("paths", {}).values()
        for operation in operations.values()
        for requirement in operation.get("security", [])
        for name in requirement
    }
    definitions = {
        scheme.scheme_name: jsonable_encoder(scheme.model, by_alias=True, exclude_none=True)
        for scheme in SESSION_SCHEMES
        if scheme.scheme_name in named
    }
    if definitions:
        schema["components"].setdefault("securitySchemes", {}).update(definitions)


def _complete(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if responses.pop("422", None) is not None:  # a route's refusals may have made its 400
        responses.setdefault("400", _error_response(400))
    if operation.get("security"):  # AuthFirstRoute names the session schemes it takes
        responses.setdefault("401", _error_response(401, [NotAuthorized()]))
    parameters = operation.get("parameters", [])
    if any(parameter["in"] == "path" for parameter in parameters):
        responses.setdefault("404", _error_response(404))
    if any(parameter["name"] == KEY_HEADER for parameter in parameters):
        refused = responses.setdefault("400", _error_response(400))
        _add_examples(refused, BadRequest(REUSED_KEY, field=KEY_HEADER))
        responses.setdefault("409", _error_response(409))
        for status, response in responses.items():
            if status.startswith("2"):
                response.setdefault("headers", {})[REPLAYED_HEADER] = {
                    "description": "`true` when this is the kept answer to an earlier request",
                    "schema": {"type": "string", "enum": ["true"]},
                }
    responses.setdefault("503", _error_response(503))
    responses["default"] = {
        "description": "An error",
        "content": {"application/json": {"schema": _ERROR_REF}},
    }
