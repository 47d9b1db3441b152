"""Password hashing: argon2id with parameters chosen on purpose, on a bounded pool.

The parameters are OWASP's first recommended argon2id configuration (Password Storage Cheat
Sheet: m = 19 MiB, t = 2, p = 1): about 20 ms of one core per hash here, against 140 ms for
pwdlib's default (64 MiB, t = 3, p = 4). One lane (p = 1) keeps a hash on one thread, so the
pool's size is the number of cores hashing. A hash made with other parameters (every hash made
before this choice) still verifies, and is replaced on its next successful sign-in.
"""

from __future__ import annotations

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from tixcommon.cpu import BoundedPool

ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1

BUSY = "Too many sign-ins at once, try again shortly"


class PasswordHasher:
    """Hashes and verifies on the pool's threads: a hash is tens of milliseconds of CPU, which
    on the event loop would stall every other request."""

    def __init__(self, pool: BoundedPool) -> None:
        self.pool = pool
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
        self._decoy = self._hash.hash("decoy password that matches nothing")

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
