"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: its dependencies do)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tixcommon.context import ServiceContext
from tixcommon.errors import ErrorBody, ErrorItem
from tixcommon.metrics import SERVICE_READY

router = APIRouter(include_in_schema=False)

ReadinessCheck = Callable[[], Awaitable[bool]]
"""A service's own dependency check: True when it answers."""
_CHECK_TIMEOUT_SECONDS = 2.0


async def dependency_checks(
    context: ServiceContext[Any], extra: Mapping[str, ReadinessCheck] | None = None
) -> dict[str, str]:
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(context.database.command("ping"), _CHECK_TIMEOUT_SECONDS)
        checks["mongo"] = "ok"
    except Exception as error:  # noqa: BLE001 - any failure means "not ready"
        checks["mongo"] = f"unreachable: {type(error).__name__}"
    if context.bus is not None:
        checks["nats"] = "ok" if context.bus.is_connected else "unreachable"
    for name, check in (extra or {}).items():
        try:
            ok = await asyncio.wait_for(check(), _CHECK_TIMEOUT_SECONDS)
            checks[name] = "ok" if ok else "unavailable"
        except Exception as error:  # noqa: BLE001 - any failure means "not ready"
            checks[name] = f"unreachable: {type(error).__name__}"
    return checks


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(request: Request) -> dict[str, object] | JSONResponse:
    context: ServiceContext[Any] | None = request.app.state.context
    if context is None:
        problem = request.app.state.startup_error or "opening its dependencies"
        body = ErrorBody(errors=[ErrorItem(message=f"starting: {problem}")])
        SERVICE_READY.set(0)
        return JSONResponse(body.to_json(), status_code=503)
    checks = await dependency_checks(context, request.app.state.readiness_checks)
    failing = {name: state for name, state in checks.items() if state != "ok"}
    # What the last readiness probe found: the alert on a service not ready reads it.
    SERVICE_READY.set(0 if failing else 1)
    if failing:
        body = ErrorBody(
            errors=[ErrorItem(message=f"{name} {state}") for name, state in failing.items()]
        )
        return JSONResponse(body.to_json(), status_code=503)
    return {"status": "ready", "checks": checks}
