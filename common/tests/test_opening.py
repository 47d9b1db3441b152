"""Opening a process's dependencies again and again, until they answer or it is stopped."""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AsyncExitStack

from tixcommon.opening import open_with_retry


async def test_a_cancel_lost_inside_an_attempt_still_stops_the_retries() -> None:
    """Python 3.11's wait_for can swallow a cancel that lands as a read completes; the attempt
    then fails like an outage. Retrying on would keep a SIGTERM'd process alive for ever."""
    attempts = 0
    in_attempt = asyncio.Event()

    async def open_all(_: AsyncExitStack) -> None:
        nonlocal attempts
        attempts += 1
        in_attempt.set()
        with contextlib.suppress(asyncio.CancelledError):  # lost, as wait_for loses it
            await asyncio.Event().wait()  # a database that never answers
        raise ConnectionError("database unavailable")

    async with AsyncExitStack() as stack:
        opening = asyncio.create_task(open_with_retry(open_all, stack))
        await in_attempt.wait()
        opening.cancel()
        done, _ = await asyncio.wait({opening}, timeout=5)

    assert done == {opening}
    assert opening.cancelled()
    assert attempts == 1


async def test_an_attempt_that_fails_is_retried_until_one_opens() -> None:
    attempts = 0

    async def open_all(_: AsyncExitStack) -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 2:
            raise ConnectionError("database unavailable")
        return "opened"

    async with AsyncExitStack() as stack:
        assert await open_with_retry(open_all, stack) == "opened"
    assert attempts == 2
