"""The one routing table of the platform: which service answers which path prefix. The local
gateway routes by it, the web client calls the services by it, and the Kubernetes ingress must
agree with it (a test checks)."""

from __future__ import annotations

ROUTES: tuple[tuple[str, str], ...] = (
    ("/api/users", "auth"),
    ("/api/tickets", "tickets"),
    ("/api/orders", "orders"),
    ("/api/payments", "payments"),
    ("/api/waitingroom", "waitingroom"),
)
DEFAULT_SERVICE = "client"
ROUTED_SERVICES: tuple[str, ...] = tuple(service for _, service in ROUTES)


def service_for(path: str) -> str:
    """The service for a request path: case and a trailing slash do not matter (as in the
    services themselves); `/api/usersX` is not `/api/users`."""
    lowered = path.lower()
    for prefix, service in ROUTES:
        if lowered == prefix or lowered.startswith(prefix + "/"):
            return service
    return DEFAULT_SERVICE
