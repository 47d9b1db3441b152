from __future__ import annotations

from pydantic import Field

from tixcommon.settings import EventServiceSettings


class ExpirationSettings(EventServiceSettings):
    service_name: str = "expiration"
    port: int = 3004

    redis_url: str
    # How often the worker looks for due jobs: the floor of its lateness (arq's default 0.5 s
    # would make every reservation lapse half a second late).
    worker_poll_seconds: float = Field(default=0.005, gt=0)
    worker_max_jobs: int = Field(default=200, ge=1)
    # The worker refreshes a Redis key this often (TTL: interval + 1 s); liveness checks read it.
    worker_health_seconds: float = Field(default=1.0, gt=0)
    # How often the worker re-schedules what it has heard of, in case Redis lost jobs.
    reconcile_seconds: float = Field(default=10.0, gt=0)

    @property
    def queue_name(self) -> str:
        suffix = f":{self.events_namespace}" if self.events_namespace else ""
        return f"tix:expiration{suffix}"
