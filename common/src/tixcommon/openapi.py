"""The OpenAPI document as the services really answer: errors in the contract's shape.

FastAPI documents a 422 with its own validation-error body for every route with parameters,
but our services answer bad input with 400 and `{"errors": [{"message", "field"?}]}` (the HTTP
contract), and may answer any route with 401, 404, 413, 429 or 503 in that same shape. The
document says so, so that clients (and the schema-driven fuzz tests) can rely on it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from tixcommon.errors import ErrorBody

_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
_ERROR_RESPONSE = {"content": {"application/json": {"schema": _ERROR_REF}}}


def contract_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
    schemas: dict[str, Any] = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    defs = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(defs.pop("$defs", {}))
    schemas["ErrorBody"] = defs
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            if responses.pop("422", None) is not None:
                responses["400"] = {"description": "Bad request", **_ERROR_RESPONSE}
            responses["default"] = {"description": "An error", **_ERROR_RESPONSE}
    app.openapi_schema = schema
    return schema
