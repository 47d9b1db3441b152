from __future__ import annotations

from pydantic import Field

from tixcommon.mail import MailSettings
from tixcommon.settings import EventServiceSettings


class AuthSettings(EventServiceSettings, MailSettings):
    service_name: str = "auth"
    port: int = 3001

    # Failed sign-ins allowed per window, per email and per client address, before 429.
    signin_max_failures_per_email: int = Field(default=5, ge=1)
    signin_max_failures_per_address: int = Field(default=30, ge=1)
    signin_window_seconds: int = Field(default=900, ge=1)
    # Reset links asked for per window (the sign-in window), per email and per client address:
    # each is a mail sent to the address, so an address is not a mailbox anyone can fill.
    password_reset_max_per_email: int = Field(default=3, ge=1)
    password_reset_max_per_address: int = Field(default=20, ge=1)
    # How long a reset link works (OWASP: short; the contract: 30 minutes).
    password_reset_lifetime_seconds: int = Field(default=1800, ge=60)

    # Password hashes computed at once: 0 sizes it from the CPU the process may use (its cgroup
    # quota, else its cores). Each holds 19 MiB while it runs.
    password_hash_workers: int = Field(default=0, ge=0)
    # How long a sign-in or sign-up may expect to wait for a hashing thread, by the time hashes
    # are taking; beyond it the answer is 503 with Retry-After. At an on-sale a person signs in
    # to join the waiting room, whose arrivals before the sale are drawn in random order: a slow
    # sign-in costs them no place, a refusal may cost them the sale. Twenty seconds is far
    # inside every router's timeout (60 s), and room for 500 sign-ins at once on two cores,
    # which take about 12 s on `make dev` here (a sign-in is its 30 ms hash and about 18 ms
    # besides, across auth, its database and the gateway).
    password_hash_max_wait_seconds: float = Field(default=20.0, gt=0)
    # What a request waiting for a hash holds is mostly its body: at 1 MiB (every other
    # service's limit) a burst within the wait bound would outgrow the container, at 16 KiB a
    # waiting request holds 30 to 60 KiB. The largest valid body is about 13 KiB (a password of
    # 1,024 characters, each written as an escaped surrogate pair).
    max_body_bytes: int = Field(default=16 * 1024, gt=0)
