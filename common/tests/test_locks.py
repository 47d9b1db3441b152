"""Keyed locks: one holder per key at a time, other keys unhindered, nothing kept once free."""

from __future__ import annotations

import asyncio

import pytest

from tixcommon.locks import KeyedLocks


async def test_holders_of_one_key_take_turns() -> None:
    locks = KeyedLocks()
    inside: list[int] = []
    most = 0

    async def work(index: int) -> None:
        nonlocal most
        async with locks.hold("listing"):
            inside.append(index)
            most = max(most, len(inside))
            await asyncio.sleep(0)  # give the others every chance to enter
            inside.remove(index)

    await asyncio.gather(*(work(index) for index in range(20)))

    assert most == 1


async def test_other_keys_are_not_held_up() -> None:
    locks = KeyedLocks()
    release = asyncio.Event()

    async def long_holder() -> None:
        async with locks.hold("busy"):
            await release.wait()

    holder = asyncio.create_task(long_holder())
    await asyncio.sleep(0)
    async with asyncio.timeout(1), locks.hold("quiet"):
        assert len(locks) == 2
    release.set()
    await holder


async def test_nothing_is_kept_once_every_holder_left_even_after_a_failure() -> None:
    locks = KeyedLocks()

    async def failing() -> None:
        async with locks.hold("listing"):
            raise RuntimeError("database away")

    with pytest.raises(RuntimeError):
        await failing()
    await asyncio.gather(*(asyncio.sleep(0) for _ in range(3)))
    async with locks.hold("a"), locks.hold("b"):
        pass

    assert len(locks) == 0
