"""Which methods a path answers: for the `Allow` header of a 405 and of an OPTIONS answer
(RFC 9110 §10.2.1), asked of the app's own routes so it cannot disagree with them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Match

# What a route of ours may declare; HEAD and OPTIONS are answered at the edge for every path.
_DECLARABLE = ("DELETE", "GET", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> str:
    """The `Allow` value for the request's path: each method some route answers on it (asked
    of the routes as the router asks them, included routers too), HEAD wherever GET is, and
    OPTIONS."""
    methods = {"OPTIONS"}
    routes = request.app.router.routes
    for method in _DECLARABLE:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in routes):
            methods.add(method)
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))
