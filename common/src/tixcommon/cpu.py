"""CPU-bound work (password hashing) off the event loop, bounded by the CPU the process may use.

`asyncio.to_thread` would run as many at once as the default executor has threads (cores + 4:
the node's cores, not the pod's CPU limit), each holding its working memory, and queue the rest
without limit: a burst then grows memory until the container is killed. Here as many run as the
process has CPUs to run them on, and a call waits for one only while the wait it would have is
within a bound in seconds, by how long calls have recently taken; the rest are refused at once
with a 503 and `Retry-After`, before they cost anything.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
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


# How much of the estimate one measured call moves: the last ten or so calls dominate it, so
# it follows a change of load within a fraction of a second of work, and one slow call (a
# thread descheduled) moves it by a fifth of that call's excess.
ESTIMATE_WEIGHT = 0.2


class BoundedPool:
    """`workers` threads, and a call admitted while the wait it would have for one is at most
    `max_wait_seconds`; beyond that, `busy` (a 503 with `Retry-After`).

    The wait is the calls admitted ahead that no thread has free for it, times the time a call
    takes (a moving average of the calls measured, `work_seconds` until the first), over the
    threads. The estimate never goes below `min_work_seconds`, so however fast calls are
    measured at most `workers - 1 + max_wait_seconds * workers / min_work_seconds` are admitted
    at once: that count, and what each admitted request holds, bound the memory a burst takes.
    """

    def __init__(
        self,
        *,
        workers: int,
        max_wait_seconds: float,
        work_seconds: float,
        min_work_seconds: float,
        name: str,
        busy: str,
        observe_wait: Callable[[float], None] | None = None,
    ) -> None:
        self.workers = workers
        self.max_wait_seconds = max_wait_seconds
        self.min_work_seconds = min_work_seconds
        self._work_seconds = work_seconds
        self._busy = busy
        self._observe_wait = observe_wait
        self._admitted = 0
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)

    @property
    def admitted(self) -> int:
        return self._admitted

    @property
    def work_seconds(self) -> float:
        """The time one call is expected to take on its thread."""
        return max(self._work_seconds, self.min_work_seconds)

    def expected_wait(self) -> float:
        """Seconds a call admitted now would wait before a thread starts it. Every admitted call
        counts as a whole one ahead, running ones too: at most one call's time pessimistic."""
        ahead = self._admitted - self.workers + 1
        return max(0, ahead) * self.work_seconds / self.workers

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the pool's places for a request's whole CPU-bound step (taken before
        the request does any other work, so a refused one costs nothing)."""
        wait = self.expected_wait()
        if wait > self.max_wait_seconds:
            # When the calls ahead should be done: coming back then finds room, where coming
            # back every second would be refused again until the queue drains.
            raise ServiceUnavailable(self._busy, retry_after=max(1, math.ceil(wait)))
        self._admitted += 1
        try:
            yield
        finally:
            self._admitted -= 1

    async def run(self, work: Callable[..., T], *args: object) -> T:
        """Run `work(*args)` on one of the pool's threads (inside a `slot`), measuring the time
        it took there into the estimate and the time it waited for a thread into `observe_wait`.
        """
        submitted = time.perf_counter()
        started, finished, result = await asyncio.wrap_future(
            self._executor.submit(_timed, work, *args)
        )
        # Updated here on the event loop, not on the threads: no two updates race.
        self._work_seconds += ESTIMATE_WEIGHT * (finished - started - self._work_seconds)
        if self._observe_wait is not None:
            self._observe_wait(started - submitted)
        return result

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _timed(work: Callable[..., T], *args: object) -> tuple[float, float, T]:
    started = time.perf_counter()
    result = work(*args)
    return started, time.perf_counter(), result
