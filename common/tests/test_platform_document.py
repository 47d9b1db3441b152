"""One document from each service's: paths and schemas merged, clashing names kept apart."""

from __future__ import annotations

from typing import Any

from tixcommon.platform_document import merged_document


def document(path: str, schemas: dict[str, Any]) -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/Out"}
    return {
        "openapi": "3.1.0",
        "info": {"title": path, "version": "1"},
        "paths": {path: {"get": {"responses": {"200": {"content": {"j": {"schema": ref}}}}}}},
        "components": {"schemas": schemas},
    }


def test_a_schema_named_alike_but_defined_apart_is_renamed_in_the_later_service() -> None:
    error = {"type": "object", "title": "Error"}
    tickets = document("/api/tickets", {"Out": {"title": "Out", "type": "object"}, "Error": error})
    orders = document("/api/orders", {"Out": {"title": "Out", "type": "array"}, "Error": error})

    merged = merged_document("TixVibe", {"tickets": tickets, "orders": orders})

    assert merged["info"]["title"] == "TixVibe"
    assert merged["components"]["schemas"] == {
        "Out": {"title": "Out", "type": "object"},
        "OrdersOut": {"title": "OrdersOut", "type": "array"},
        "Error": error,  # the same in both: kept once
    }
    schema_of = {
        path: operations["get"]["responses"]["200"]["content"]["j"]["schema"]["$ref"]
        for path, operations in merged["paths"].items()
    }
    assert schema_of == {
        "/api/tickets": "#/components/schemas/Out",
        "/api/orders": "#/components/schemas/OrdersOut",
    }
