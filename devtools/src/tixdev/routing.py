"""The one routing table of the platform: which service answers which path prefix. The local
gateway routes by it, and so must the Kubernetes ingress (checked against it by a test once the
manifests exist)."""

from __future__ import annotations

ROUTES: tuple[tuple[str, str], ...] = (
    ("/api/users", "auth"),
    ("/api/tickets", "tickets"),
    ("/api/orders", "orders"),
    ("/api/payments", "payments"),
)
DEFAULT_SERVICE = "client"


def service_for(path: str) -> str:
    """The service for a request path: case and a trailing slash do not matter (as in the
    services themselves); `/api/usersX` is not `/api/users`."""
    lowered = path.lower()
    for prefix, service in ROUTES:
        if lowered == prefix or lowered.startswith(prefix + "/"):
            return service
    return DEFAULT_SERVICE
