"""One OpenAPI document for the whole platform, made of each service's own.

Imports nothing but the standard library: the web client, which serves the result, installs
tixcommon without the services' drivers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_SCHEMAS = "#/components/schemas/"


def merged_document(title: str, documents: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """One document for the whole platform from each service's (`{"orders": {...}}`): their
    paths, and their schemas, a schema that two services name alike but define differently
    renamed after its service in the later one (orders' `TicketOut` is `OrdersTicketOut`)."""
    first = next(iter(documents.values()))
    merged: dict[str, Any] = {
        "openapi": first["openapi"],
        "info": {**first["info"], "title": title},
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": {}},
    }
    schemas: dict[str, Any] = merged["components"]["schemas"]
    for service, document in documents.items():
        own = document.get("components", {}).get("schemas", {})
        renamed = {
            name: f"{service.title()}{name}"
            for name, schema in own.items()
            if schemas.get(name, schema) != schema
        }
        document = _with_refs_renamed(document, renamed)
        merged["paths"].update(document["paths"])
        for name, schema in document.get("components", {}).get("schemas", {}).items():
            # A generator names a model by its title: the title changes with the name.
            schemas[renamed.get(name, name)] = {**schema, "title": renamed.get(name, name)}
        merged["components"]["securitySchemes"].update(
            document.get("components", {}).get("securitySchemes", {})
        )
    return merged


def _with_refs_renamed(node: Any, renamed: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_SCHEMAS):
            name = ref.removeprefix(_SCHEMAS)
            return {**node, "$ref": _SCHEMAS + renamed.get(name, name)}
        return {key: _with_refs_renamed(value, renamed) for key, value in node.items()}
    if isinstance(node, list):
        return [_with_refs_renamed(value, renamed) for value in node]
    return node
