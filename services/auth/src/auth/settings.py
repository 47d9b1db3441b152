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
    # How long a sign-in or sign-up may expect to wait for a hashing thread, by the time hashes
    # are taking; beyond it the answer is 503 with Retry-After. At an on-sale a person signing
    # in has come to buy and waits out a spinner longer than the ten seconds an ordinary page
    # gets; a refusal sends them to try again from the back, and a wait past their patience
    # makes them reload, a second hash for an answer nobody reads. Fifteen seconds is twice
    # what 500 sign-ins at once take on two cores here (30 ms a hash), so a laptop busy with
    # other work still answers every one of them.
    password_hash_max_wait_seconds: float = Field(default=15.0, gt=0)
    # What a request waiting for a hash holds is mostly its body: at 1 MiB (every other
    # service's limit) a burst within the wait bound would outgrow the container, at 16 KiB a
    # waiting request holds 30 to 60 KiB. The largest valid body is about 13 KiB (a password of
    # 1,024 characters, each written as an escaped surrogate pair).
    max_body_bytes: int = Field(default=16 * 1024, gt=0)
