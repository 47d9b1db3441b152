"""Routers whose protected routes answer 401 before anything else, and whose POSTs that accept
`Idempotency-Key` replay their first success to a retry.

FastAPI parses a JSON body before it runs any dependency, so a malformed body would get its 400
before `RequireUser` could say 401. The contract puts authentication first: a route that depends
on `RequireUser` checks the session before its body is read. A route that depends on
`idempotency_key` is run through the service's `IdempotencyStore` (tixcommon.idempotency), after
the session check, so a key is always the caller's own.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from tixcommon.auth import SESSION_SCHEMES, require_user, session_user
from tixcommon.context import opened_context
from tixcommon.errors import NotAuthorized
from tixcommon.idempotency import (
    KEY_HEADER,
    IdempotencyStore,
    fingerprint,
    idempotency_key,
    valid_key,
)

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def depends_on(dependant: Dependant, call: Callable[..., Any]) -> bool:
    """Whether `call` is among a route's dependencies, however deep."""
    return any(sub.call is call or depends_on(sub, call) for sub in dependant.dependencies)


def _idempotent(handler: Handler) -> Handler:
    async def idempotent_handler(request: Request) -> Response:
        key = request.headers.get(KEY_HEADER)
        user = session_user(request)
        if key is None or user is None:
            return await handler(request)
        key_id = f"{user.id}:{valid_key(key)}"
        store = IdempotencyStore(opened_context(request).database)
        # The body is read here once; FastAPI reads the same bytes from the request again.
        stored = await store.claim(key_id, fingerprint(request, await request.body()))
        if stored is not None:
            return stored.response()
        try:
            response = await handler(request)
        except BaseException:
            await store.release(key_id)
            raise
        if response.status_code < 300:
            await store.keep(key_id, response)
        else:
            await store.release(key_id)
        return response

    return idempotent_handler


class AuthFirstRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if depends_on(self.dependant, require_user):
            # Either way of sending a session, as FastAPI would state the schemes were they
            # dependencies of require_user's (they are not: one dependency is cheaper to solve).
            security: list[dict[str, list[str]]] = [{s.scheme_name: []} for s in SESSION_SCHEMES]
            self.openapi_extra = {"security": security, **(self.openapi_extra or {})}

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        if depends_on(self.dependant, idempotency_key):
            handler = _idempotent(handler)
        if not depends_on(self.dependant, require_user):
            return handler
        inner = handler

        async def authenticated_handler(request: Request) -> Response:
            # Checked here, before FastAPI reads the body; `RequireUser` checks it again when
            # the dependencies run (a hit in SessionCodec's cache of verified tokens).
            if session_user(request) is None:
                raise NotAuthorized()
            return await inner(request)

        return authenticated_handler


def service_router(prefix: str, **kwargs: Any) -> APIRouter:
    """The router every service's routes hang from."""
    return APIRouter(prefix=prefix, route_class=AuthFirstRoute, **kwargs)
