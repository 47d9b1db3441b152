"""How much CPU the process may use, read as the container runtime sets it, and the pool that
refuses work beyond what it can do instead of queueing it without bound."""

from __future__ import annotations

import asyncio
import threading
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


async def test_the_pool_refuses_beyond_its_workers_and_queue_at_once() -> None:
    pool = BoundedPool(workers=1, queue=2, name="test", busy="Busy")
    release = threading.Event()
    try:
        holders = [asyncio.create_task(_hold(pool, release)) for _ in range(3)]
        await wait_until(lambda: pool.admitted == 3, message="three slots taken")
        with pytest.raises(ServiceUnavailable) as refused:
            async with pool.slot():
                pass
        assert (refused.value.status_code, refused.value.retry_after) == (503, 1)
        assert refused.value.message == "Busy"
        release.set()
        assert await asyncio.gather(*holders) == [42, 42, 42]
        assert pool.admitted == 0
        async with pool.slot():  # room again
            assert await pool.run(sum, [1, 2]) == 3
    finally:
        release.set()
        pool.close()


async def _hold(pool: BoundedPool, release: threading.Event) -> int:
    async with pool.slot():
        return await pool.run(lambda: 42 if release.wait(10) else 0)
