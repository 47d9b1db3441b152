"""Running a service process: settings from the environment, JSON logs, uvicorn."""

from __future__ import annotations

import sys
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from tixcommon.logging import configure_logging
from tixcommon.settings import ConfigurationError, SettingsT, load_settings


def serve(settings_type: type[SettingsT], app_factory: Callable[[SettingsT], FastAPI]) -> None:
    try:
        settings = load_settings(settings_type)
    except ConfigurationError as error:
        print(f"{error}", file=sys.stderr)  # noqa: T201 - logging is not configured yet
        raise SystemExit(2) from None
    configure_logging(settings.service_name, settings.log_level)
    uvicorn.run(
        app_factory(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        # X-Forwarded-For is read with TRUSTED_PROXY_HOPS by the code that needs the client's
        # address; uvicorn's own rewrite would trust the spoofable left-most entry.
        proxy_headers=False,
        timeout_graceful_shutdown=15,
        # Say nothing about the software we run (ingress-nginx hides it too).
        server_header=False,
    )
