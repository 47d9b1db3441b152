"""How much CPU the process may use, read as the container runtime sets it, and the pool that
refuses work whose wait for a thread would pass its bound instead of queueing it without bound."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from tixcommon.cpu import BoundedPool, cgroup_cpu_quota, usable_cpus
from tixcommon.errors import ServiceUnavailable
from tixtest import wait_until


def cgroup(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    return root


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        ({"cpu.max": "150000 100000\n"}, 1.5),  # cgroup v2, limits.cpu: 1500m
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 0.5),  # v1
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),
        ({"cpu.max": "garbage"}, None),
    ],
)
def test_the_cgroup_quota_is_read_from_either_cgroup_version(
    tmp_path: Path, files: dict[str, str], quota: float | None
) -> None:
    assert cgroup_cpu_quota(cgroup(tmp_path, files)) == quota


def test_usable_cpus_follow_the_quota_not_the_node(tmp_path: Path) -> None:
    assert usable_cpus(cgroup(tmp_path / "a", {"cpu.max": "100000 100000"})) == 1
    # Half a CPU still gets one thread; a quota above the cores gets the cores.
    assert usable_cpus(cgroup(tmp_path / "b", {"cpu.max": "50000 100000"})) == 1
    unlimited = usable_cpus(cgroup(tmp_path / "c", {"cpu.max": "max 100000"}))
    assert usable_cpus(cgroup(tmp_path / "d", {"cpu.max": "6400000 100000"})) == unlimited


def pool(*, workers: int, max_wait: float, work: float, min_work: float = 0.001) -> BoundedPool:
    return BoundedPool(
        workers=workers,
        max_wait_seconds=max_wait,
        work_seconds=work,
        min_work_seconds=min_work,
        name="test",
        busy="Busy",
    )


async def test_calls_whose_wait_is_within_the_bound_are_queued_and_answered() -> None:
    # One thread, 4 s a call: the calls ahead of the fourth would take 12 s, past the bound.
    bounded = pool(workers=1, max_wait=10, work=4)
    release = threading.Event()
    try:
        holders = [asyncio.create_task(_hold(bounded, release)) for _ in range(3)]
        await wait_until(lambda: bounded.admitted == 3, message="three calls admitted")
        assert bounded.expected_wait() == 12
        release.set()
        assert await asyncio.gather(*holders) == [42, 42, 42]
        assert bounded.admitted == 0
    finally:
        release.set()
        bounded.close()


async def test_a_call_whose_wait_is_past_the_bound_is_refused_with_that_wait_as_retry_after() -> (
    None
):
    bounded = pool(workers=1, max_wait=10, work=4)
    release = threading.Event()
    try:
        holders = [asyncio.create_task(_hold(bounded, release)) for _ in range(3)]
        await wait_until(lambda: bounded.admitted == 3, message="three calls admitted")
        with pytest.raises(ServiceUnavailable) as refused:
            async with bounded.slot():
                pass
        # When the three ahead should be done, not "1": coming back sooner is refused again.
        assert (refused.value.status_code, refused.value.retry_after) == (503, 12)
        assert refused.value.message == "Busy"
        assert bounded.admitted == 3  # the refused call took no place
        release.set()
        await asyncio.gather(*holders)
        async with bounded.slot():  # room again
            assert await bounded.run(sum, [1, 2]) == 3
    finally:
        release.set()
        bounded.close()


async def test_the_wait_counts_only_the_calls_no_thread_is_free_for() -> None:
    bounded = pool(workers=2, max_wait=1, work=1)
    release = threading.Event()
    try:
        first = asyncio.create_task(_hold(bounded, release))
        await wait_until(lambda: bounded.admitted == 1, message="one call admitted")
        assert bounded.expected_wait() == 0  # a thread is free
        second = asyncio.create_task(_hold(bounded, release))
        await wait_until(lambda: bounded.admitted == 2, message="two calls admitted")
        # Both threads busy: the next waits for the first of them, half a call's time.
        assert bounded.expected_wait() == 0.5
        release.set()
        assert list(await asyncio.gather(first, second)) == [42, 42]
    finally:
        release.set()
        bounded.close()


async def test_the_estimate_follows_the_time_calls_really_take() -> None:
    bounded = pool(workers=1, max_wait=10, work=1.0)
    try:
        for _ in range(20):
            async with bounded.slot():
                # A call's duration, not a wait for anything.
                await bounded.run(time.sleep, 0.02)
        # From 1 s towards 20 ms: within a few milliseconds of it after twenty calls.
        assert 0.02 <= bounded.work_seconds < 0.04, bounded.work_seconds
        for _ in range(20):
            async with bounded.slot():
                await bounded.run(time.sleep, 0.06)
        assert 0.05 < bounded.work_seconds < 0.09, bounded.work_seconds
    finally:
        bounded.close()


async def test_however_fast_calls_are_measured_the_admitted_count_is_capped() -> None:
    # Measured near zero, the estimate stays at 0.25 s: 1 running + 4 waiting, 1 s in all.
    bounded = pool(workers=1, max_wait=1, work=0.0, min_work=0.25)
    release = threading.Event()
    try:
        for _ in range(5):
            async with bounded.slot():
                await bounded.run(int)
        assert bounded.work_seconds == 0.25
        holders = [asyncio.create_task(_hold(bounded, release)) for _ in range(5)]
        await wait_until(lambda: bounded.admitted == 5, message="five calls admitted")
        with pytest.raises(ServiceUnavailable):
            async with bounded.slot():
                pass
        release.set()
        await asyncio.gather(*holders)
    finally:
        release.set()
        bounded.close()


async def test_the_time_a_call_waited_for_a_thread_is_observed() -> None:
    waits: list[float] = []
    bounded = BoundedPool(
        workers=1,
        max_wait_seconds=10,
        work_seconds=0.01,
        min_work_seconds=0.001,
        name="test",
        busy="Busy",
        observe_wait=waits.append,
    )
    try:

        async def call(seconds: float) -> None:
            async with bounded.slot():
                await bounded.run(time.sleep, seconds)

        # Admitted means submitted (the same step of the task): the long call has the thread.
        long = asyncio.create_task(call(0.1))
        await wait_until(lambda: bounded.admitted == 1, message="the long call admitted")
        await asyncio.gather(long, call(0))
        # The long call started at once; the short one waited for the thread while it ran.
        assert len(waits) == 2
        assert waits[0] < 0.05, waits
        assert waits[1] > 0.05, waits
    finally:
        bounded.close()


async def _hold(pool: BoundedPool, release: threading.Event) -> int:
    async with pool.slot():
        return await pool.run(lambda: 42 if release.wait(10) else 0)
