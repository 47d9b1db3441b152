"""What auth counts of its business, beside the metrics every service has (tixcommon.metrics)."""

from __future__ import annotations

from prometheus_client import Counter

SIGNIN_FAILURES = Counter(
    "tixvibe_signin_failures_total", "Sign-ins refused for a wrong email or password."
)
