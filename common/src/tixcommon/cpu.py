"""CPU-bound work (password hashing) off the event loop, bounded by the CPU the process may use.

`asyncio.to_thread` would run as many at once as the default executor has threads (cores + 4:
the node's cores, not the pod's CPU limit), each holding its working memory, and queue the rest
without limit: a burst then grows memory until the container is killed. Here as many run as the
process has CPUs to run them on, a bounded number wait, and the rest are refused at once with a
503 and `Retry-After`, before they cost anything.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

from tixcommon.errors import ServiceUnavailable

T = TypeVar("T")

CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_cpu_quota(root: Path = CGROUP_ROOT) -> float | None:
    """The CPUs the cgroup lets this process use (its CPU limit), or None if unlimited."""
    try:
        quota, period = (root / "cpu.max").read_text().split()  # cgroup v2
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:  # cgroup v1
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota_us <= 0 or period_us <= 0 else quota_us / period_us


def usable_cpus(root: Path = CGROUP_ROOT) -> int:
    """Whole CPUs the process may keep busy: its cgroup quota (rounded down, at least one) and
    no more than the CPUs it may be scheduled on."""
    scheduled = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cpus = scheduled or os.cpu_count() or 1
    quota = cgroup_cpu_quota(root)
    if quota is not None:
        cpus = min(cpus, max(1, math.floor(quota)))
    return cpus


class BoundedPool:
    """`workers` threads, at most `queue` calls waiting for one; beyond that, `busy` (a 503)."""

    def __init__(self, *, workers: int, queue: int, name: str, busy: str) -> None:
        self.workers = workers
        self.capacity = workers + queue
        self._busy = busy
        self._admitted = 0
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)

    @property
    def admitted(self) -> int:
        return self._admitted

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the pool's places for a request's whole CPU-bound step (taken before
        the request does any other work, so a refused one costs nothing)."""
        if self._admitted >= self.capacity:
            raise ServiceUnavailable(self._busy, retry_after=1)
        self._admitted += 1
        try:
            yield
        finally:
            self._admitted -= 1

    async def run(self, work: Callable[..., T], *args: object) -> T:
        """Run `work(*args)` on one of the pool's threads (inside a `slot`)."""
        return await asyncio.wrap_future(self._executor.submit(work, *args))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
