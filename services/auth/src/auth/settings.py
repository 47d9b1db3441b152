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
