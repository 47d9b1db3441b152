"""What auth counts of its business, beside the metrics every service has (tixcommon.metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

SIGNIN_FAILURES = Counter(
    "tixvibe_signin_failures_total", "Sign-ins refused for a wrong email or password."
)

PASSWORD_HASH_WAIT = Histogram(
    "tixvibe_password_hash_wait_seconds",
    "How long a sign-in's or sign-up's hash waited for a hashing thread.",
    # Up to the default wait bound (PASSWORD_HASH_MAX_WAIT_SECONDS) and past it: a wait beyond
    # the bound means hashes got slower after the request was admitted.
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40),
)

PASSWORD_RESETS_ASKED = Counter(
    "tixvibe_password_resets_requested_total",
    "Password resets asked for and mailed (to an address with an account or not: one count).",
)
ACCOUNT_CHANGES = Counter(
    "tixvibe_session_revocations_total",
    "Changes that ended every earlier session of an account, by reason.",
    ["reason"],
)
