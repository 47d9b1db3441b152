"""The mail relay's metrics (named like tixcommon.metrics'): kinds are the renderers a service
registers, a bounded set."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

MAIL_SENT = Counter("tixvibe_mail_sent_total", "Mails the SMTP relay accepted, by kind.", ["kind"])
MAIL_FAILURES = Counter(
    "tixvibe_mail_failures_total",
    "Attempts to send a mail that failed (rendering or SMTP) and will be retried, by kind.",
    ["kind"],
)
MAIL_QUEUED = Gauge("tixvibe_mail_queued", "Mails queued and not sent yet, sampled.")
MAIL_OLDEST_AGE = Gauge(
    "tixvibe_mail_oldest_queued_age_seconds",
    "How long the oldest mail not sent yet has waited (0 when none waits), sampled.",
)
