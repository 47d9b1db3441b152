"""Reconciliation loops: they outlive failed rounds and stop when told, whatever a round does."""

from __future__ import annotations

import asyncio

from tixcommon.periodic import running_every
from tixtest import wait_until


async def test_a_failed_round_is_followed_by_the_next() -> None:
    rounds: list[int] = []

    async def work() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise ConnectionError("database away")

    async with running_every(0.01, work, name="test rounds"):
        await wait_until(lambda: len(rounds) >= 3, message="rounds after a failure")


async def test_it_stops_even_if_a_round_swallows_the_cancel() -> None:
    # What asyncio.wait_for does on Python 3.11 when a cancel meets a completing read.
    started = asyncio.Event()
    swallowed: list[bool] = []

    async def stubborn() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if swallowed:
                raise  # only once, so a failing run of this test still ends
            swallowed.append(True)

    async def run() -> None:
        async with running_every(0.01, stubborn, name="stubborn rounds"):
            await started.wait()

    # Not wait_for: cancelling a block stuck on exit would only be swallowed again.
    stopped, _ = await asyncio.wait({asyncio.create_task(run())}, timeout=5)
    assert stopped, "the loop ran on after its block exited"
