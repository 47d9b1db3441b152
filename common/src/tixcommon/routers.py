"""Routers whose protected routes answer 401 before anything else.

FastAPI parses a JSON body before it runs any dependency, so a malformed body would get its 400
before `RequireUser` could say 401. The contract puts authentication first: a route that depends
on `RequireUser` checks the session before its body is read.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from tixcommon.auth import require_user, session_user
from tixcommon.errors import NotAuthorized


def _requires_user(dependant: Dependant) -> bool:
    return any(sub.call is require_user or _requires_user(sub) for sub in dependant.dependencies)


class AuthFirstRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not _requires_user(self.dependant):
            return handler

        async def authenticated_handler(request: Request) -> Response:
            # Checked here, before FastAPI reads the body; `RequireUser` checks it again when
            # the dependencies run (a hit in SessionCodec's cache of verified tokens).
            if session_user(request) is None:
                raise NotAuthorized()
            return await handler(request)

        return authenticated_handler


def service_router(prefix: str, **kwargs: Any) -> APIRouter:
    """The router every service's routes hang from."""
    return APIRouter(prefix=prefix, route_class=AuthFirstRoute, **kwargs)
