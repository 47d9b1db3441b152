"""Housekeeping that runs every so often for a process's whole life (reconciliations)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

logger = logging.getLogger(__name__)


@asynccontextmanager
async def running_every(
    seconds: float, work: Callable[[], Awaitable[object]], *, name: str
) -> AsyncIterator[None]:
    """Run `work` every `seconds` (first after one interval) until the block exits. A failed
    round is logged and the next one comes as usual: it exists to repair what outages leave."""
    stopping = asyncio.Event()

    async def loop() -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), seconds)
            # Checked, not only cancelled: on Python 3.11 a cancel that lands as a database
            # read completes is lost inside asyncio.wait_for, and the loop would run on.
            if stopping.is_set():
                return
            try:
                await work()
            except Exception as error:  # noqa: BLE001 - keep going after an outage
                logger.warning("%s failed", name, extra={"error": repr(error)})

    task = asyncio.create_task(loop(), name=name)
    try:
        yield
    finally:
        stopping.set()
        task.cancel()  # the round in hand need not finish
        with contextlib.suppress(asyncio.CancelledError):
            await task
