"""What the local stack runs: each service's command, port and readiness address."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    port: int
    metrics_port: int  # /metrics, which the gateway never routes to (METRICS_PORT)
    env: dict[str, str] = field(default_factory=dict)
    serves_http: bool = True

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", self.module]

    @property
    def ready_url(self) -> str | None:
        return f"http://127.0.0.1:{self.port}/readyz" if self.serves_http else None


def platform_services(base_port: int) -> list[ServiceSpec]:
    """The platform's processes, each HTTP one on its own port above `base_port` (1 to 7), and
    each one's metrics on the ports after those (8 to 15)."""
    metrics = base_port + 8
    return [
        ServiceSpec("auth", "auth", base_port + 1, metrics),
        ServiceSpec("tickets", "tickets", base_port + 2, metrics + 1),
        ServiceSpec("orders", "orders", base_port + 3, metrics + 2),
        ServiceSpec("expiration", "expiration", base_port + 4, metrics + 3),
        # No HTTP of its own: the expiration service's /readyz reports whether it is alive.
        ServiceSpec("exp-worker", "expiration.worker", 0, metrics + 4, serves_http=False),
        ServiceSpec("payments", "payments", base_port + 5, metrics + 5),
        ServiceSpec("client", "webclient", base_port + 6, metrics + 6),
        ServiceSpec("waitingroom", "waitingroom", base_port + 7, metrics + 7),
    ]
