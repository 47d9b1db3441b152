from __future__ import annotations

from pydantic import Field

from tixcommon.settings import ServiceSettings


class AuthSettings(ServiceSettings):
    service_name: str = "auth"
    port: int = 3001

    # Failed sign-ins allowed per window, per email and per client address, before 429.
    signin_max_failures_per_email: int = Field(default=5, ge=1)
    signin_max_failures_per_address: int = Field(default=30, ge=1)
    signin_window_seconds: int = Field(default=900, ge=1)

    # Password hashes computed at once: 0 sizes it from the CPU the process may use (its cgroup
    # quota, else its cores). Each holds 19 MiB while it runs.
    password_hash_workers: int = Field(default=0, ge=0)
    # Sign-ins and sign-ups that may wait for a hashing thread, per thread; beyond them the
    # answer is 503 with Retry-After. Bounds the wait: about (this + 1) hashes' time.
    password_hash_queue_per_worker: int = Field(default=8, ge=0)
