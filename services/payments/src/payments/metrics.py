"""What payments counts of its business, beside the metrics every service has
(tixcommon.metrics)."""

from __future__ import annotations

from prometheus_client import Counter

PAYMENTS = Counter(
    "tixvibe_payments_total",
    "Payments by what came of them: succeeded, declined (by the card's bank), refunded (the "
    "order was cancelled meanwhile) or reconciled (a charge whose answer was lost, recorded "
    "from Stripe's own record).",
    ["outcome"],
)
