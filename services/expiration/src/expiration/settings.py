from __future__ import annotations

from pydantic import Field

from tixcommon.settings import EventServiceSettings


class ExpirationSettings(EventServiceSettings):
    service_name: str = "expiration"
    port: int = 3004

    redis_url: str
    # The worker sleeps until its next timer is due or a new one is announced. While timers are
    # due but not yet taken (every slot busy), it looks again this often.
    worker_poll_seconds: float = Field(default=0.005, gt=0)
    # The longest it sleeps otherwise: the lateness of a timer whose announcement was lost, and
    # how often an idle worker touches Redis (never longer than its heartbeat interval).
    worker_idle_seconds: float = Field(default=1.0, gt=0)
    worker_max_jobs: int = Field(default=200, ge=1)
    # The worker refreshes a Redis key this often (TTL: interval + 1 s); liveness checks read it.
    worker_health_seconds: float = Field(default=1.0, gt=0)
    # How often the worker re-schedules what it has heard of, in case Redis lost jobs.
    reconcile_seconds: float = Field(default=10.0, gt=0)

    @property
    def queue_name(self) -> str:
        suffix = f":{self.events_namespace}" if self.events_namespace else ""
        return f"tix:expiration{suffix}"
