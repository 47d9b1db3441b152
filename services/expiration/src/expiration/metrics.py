"""What expiration measures of its business, beside the metrics every service has
(tixcommon.metrics)."""

from __future__ import annotations

from prometheus_client import Histogram

EXPIRY_LATENESS = Histogram(
    "tixvibe_expiration_lateness_seconds",
    "How long after its reservation's end an order's expiry was announced.",
    buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0),
)
