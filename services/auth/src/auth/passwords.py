"""Password hashing: argon2id with parameters chosen on purpose, on a bounded pool.

The parameters are OWASP's first recommended argon2id configuration (Password Storage Cheat
Sheet: m = 19 MiB, t = 2, p = 1): about 20 ms of one core per hash here, against 140 ms for
pwdlib's default (64 MiB, t = 3, p = 4). One lane (p = 1) keeps a hash on one thread, so the
pool's size is the number of cores hashing. A hash made with other parameters (every hash made
before this choice) still verifies, and is replaced on its next successful sign-in.

A sign-in or sign-up waits for a hashing thread only as long as the pool's wait bound allows
(`PASSWORD_HASH_MAX_WAIT_SECONDS`), by the time hashes are really taking.
"""

from __future__ import annotations

import time

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from auth.metrics import PASSWORD_HASH_WAIT
from tixcommon.cpu import BoundedPool

ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1
# Below any hash measured: one is two passes over 19 MiB, 20 to 35 ms of a core here, and a core
# twice as fast at it would still take 10 ms. The wait estimate never goes below it, so it caps
# how many sign-ins may wait at once however fast hashes are measured (BoundedPool): with the
# default wait bound 2,000 per hashing thread, about 120 MiB of waiting requests. On a faster
# core it only makes the bound stricter.
FASTEST_HASH_SECONDS = 0.01

BUSY = "Too many sign-ins at once, try again shortly"


class PasswordHasher:
    """Hashes and verifies on the pool's threads: a hash is tens of milliseconds of CPU, which
    on the event loop would stall every other request."""

    def __init__(self, *, workers: int, max_wait_seconds: float) -> None:
        self._hash = PasswordHash(
            (
                Argon2Hasher(
                    time_cost=ARGON2_TIME_COST,
                    memory_cost=ARGON2_MEMORY_KIB,
                    parallelism=ARGON2_PARALLELISM,
                ),
            )
        )
        # Verified against when the email is unknown, so both failures cost the same time.
        cpu_before = time.thread_time()
        self._decoy = self._hash.hash("decoy password that matches nothing")
        # The first estimate of a hash's time, until real ones are measured: its CPU time, what
        # it takes with a core to itself (its wall time would count whatever else was starting
        # with this process, and keep refusing sign-ins until enough had been measured).
        first_estimate = time.thread_time() - cpu_before
        self.pool = BoundedPool(
            workers=workers,
            max_wait_seconds=max_wait_seconds,
            work_seconds=first_estimate,
            min_work_seconds=FASTEST_HASH_SECONDS,
            name="password-hash",
            busy=BUSY,
            observe_wait=PASSWORD_HASH_WAIT.observe,
        )

    async def hash(self, password: str) -> str:
        return await self.pool.run(self._hash.hash, password)

    async def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        """Whether the password matches, and the hash to store instead if this one was made
        with other parameters (None: keep it)."""
        valid, updated = await self.pool.run(
            self._hash.verify_and_update, password, password_hash or self._decoy
        )
        if password_hash is None:
            return False, None
        return valid, updated
