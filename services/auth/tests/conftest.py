from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from auth.app import create_app
from auth.settings import AuthSettings
from tixcommon.settings import load_settings
from tixtest import serve_app


@pytest.fixture
def auth_env(
    service_env: dict[str, str], mail_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    monkeypatch.setenv("SIGNIN_MAX_FAILURES_PER_EMAIL", "3")
    monkeypatch.setenv("SIGNIN_MAX_FAILURES_PER_ADDRESS", "6")
    return {**service_env, **mail_env}


@pytest.fixture
async def client(auth_env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_app(create_app(load_settings(AuthSettings))) as http:
        yield http
