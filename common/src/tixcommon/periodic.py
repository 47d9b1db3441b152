"""Housekeeping that runs every so often for a process's whole life (reconciliations)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

logger = logging.getLogger("tixcommon.periodic")


@asynccontextmanager
async def running_every(
    seconds: float, work: Callable[[], Awaitable[object]], *, name: str
) -> AsyncIterator[None]:
    """Run `work` every `seconds` (first after one interval) until the block exits. A failed
    round is logged and the next one comes as usual: it exists to repair what outages leave."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await work()
            except Exception as error:  # noqa: BLE001 - keep going after an outage
                logger.warning("%s failed", name, extra={"error": repr(error)})

    task = asyncio.create_task(loop(), name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
