from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from demo_service import build_demo_app

from tixtest import serve_app


@pytest.fixture
async def demo(service_env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_app(build_demo_app()) as client:
        yield client
