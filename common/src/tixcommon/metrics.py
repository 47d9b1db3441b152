"""The Prometheus metrics every process has by being one of ours: its HTTP requests, the events it
publishes and handles, its consumers' lag and its outbox. A service's own business metrics live
in its `metrics.py`, beside these.

They are served on a port of their own (`METRICS_PORT`), never on the app's: the ingress and the
local gateway route only the app's port, so no router can hand `/metrics` to the public. Names
follow Prometheus' conventions (a unit suffix, `_total` on counters); the HTTP histogram is
OpenTelemetry's semantic convention as Prometheus spells it. Labels are bounded sets: a route's
template, never its path, so ids never become series.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram, start_http_server

logger = logging.getLogger(__name__)

# Seconds: from a cache hit to a slow payment provider.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"

HTTP_REQUEST_DURATION = Histogram(
    "http_server_request_duration_seconds",
    "HTTP requests served, by method, route template and status, and how long each took.",
    ["http_request_method", "http_route", "http_response_status_code"],
    buckets=LATENCY_BUCKETS,
)
EVENTS_PUBLISHED = Counter(
    "tixvibe_events_published_total", "Events published to JetStream, by subject.", ["subject"]
)
EVENTS_HANDLED = Counter(
    "tixvibe_events_handled_total",
    "Deliveries of events to a consumer, by what came of them: applied, duplicate (already "
    "applied), retry_later (an earlier version is due), failed (to be retried), held (kept in "
    "hand through an outage) or dead_lettered.",
    ["consumer", "outcome"],
)
EVENT_HANDLING_DURATION = Histogram(
    "tixvibe_event_handling_duration_seconds",
    "Time a consumer spent on one delivery, outages it waited through included.",
    ["consumer"],
    buckets=LATENCY_BUCKETS,
)
CONSUMER_PENDING = Gauge(
    "tixvibe_consumer_pending_messages",
    "Events in the stream a consumer has not been handed yet (JetStream's num_pending).",
    ["consumer"],
)
CONSUMER_ACK_PENDING = Gauge(
    "tixvibe_consumer_ack_pending_messages",
    "Events handed to a consumer and not settled yet (JetStream's num_ack_pending).",
    ["consumer"],
)
OUTBOX_ENTRIES = Gauge(
    "tixvibe_outbox_entries", "Committed events waiting in the outbox to be published."
)
OUTBOX_OLDEST_AGE = Gauge(
    "tixvibe_outbox_oldest_entry_age_seconds",
    "How long the oldest entry of the outbox has waited (0 when it is empty).",
)
DEAD_LETTERS = Counter(
    "tixvibe_dead_letters_total", "Events set aside as dead letters, by subject.", ["subject"]
)

SERVICE_READY = Gauge(
    "tixvibe_service_ready",
    "1 when the last readiness probe (/readyz) found every dependency answering, else 0.",
)
RATE_LIMIT_REFUSALS = Counter(
    "tixvibe_rate_limit_refusals_total",
    "Attempts refused (429) because their key used up its failures in the window.",
)

SESSION_REVOCATIONS_APPLIED = Counter(
    "tixvibe_session_revocations_applied_total",
    "Revocation events (`user.sessions-revoked`) this process has read and applied.",
)
REVOKED_ACCOUNTS = Gauge(
    "tixvibe_revoked_accounts",
    "Accounts whose earlier sessions this process refuses (entries drop once those expire).",
)


def observe_request(method: str, route: str | None, status: int, seconds: float) -> None:
    _request_series(
        method if method in _METHODS else "_OTHER", route or UNMATCHED_ROUTE, status
    ).observe(seconds)


@functools.lru_cache(maxsize=4096)
def _request_series(method: str, route: str, status: int) -> Histogram:
    # `labels` checks and locks on every call to find the same series again: a request's
    # series is looked up once. The labels are bounded sets, so is this.
    return HTTP_REQUEST_DURATION.labels(method, route, str(status))


@contextmanager
def serving_metrics(port: int | None, host: str) -> Iterator[None]:
    """Serve `/metrics` on `port` (on a thread of its own, so a busy event loop still answers
    a scrape) for the block's duration; nothing when no port is configured."""
    if port is None:
        yield
        return
    server, thread = start_http_server(port, addr=host)
    logger.info("serving metrics", extra={"port": port})
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
