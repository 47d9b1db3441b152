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
    # The door's scanners check passes in with orders, which issued them.
    ("/api/checkins", "orders"),
)
DEFAULT_SERVICE = "client"
ROUTED_SERVICES: tuple[str, ...] = tuple(dict.fromkeys(service for _, service in ROUTES))
# Where each service serves its own API document (`<prefix>/openapi.json`): its first prefix.
DOCUMENT_PREFIXES: dict[str, str] = {
    service: next(prefix for prefix, routed in ROUTES if routed == service)
    for service in ROUTED_SERVICES
}


def service_for(path: str) -> str:
    """The service for a request path: case and a trailing slash do not matter (as in the
    services themselves); `/api/usersX` is not `/api/users`."""
    lowered = path.lower()
    for prefix, service in ROUTES:
        if lowered == prefix or lowered.startswith(prefix + "/"):
            return service
    return DEFAULT_SERVICE
