"""What orders counts of its business, beside the metrics every service has (tixcommon.metrics)."""

from __future__ import annotations

from prometheus_client import Counter

ORDERS_CREATED = Counter("tixvibe_orders_created_total", "Orders placed, each holding its ticket.")
ORDERS_COMPLETED = Counter("tixvibe_orders_completed_total", "Orders paid for.")
ORDERS_CANCELLED = Counter(
    "tixvibe_orders_cancelled_total",
    "Orders cancelled, by why: the buyer cancelled it, or its reservation expired.",
    ["reason"],
)
RESERVATION_CONFLICTS = Counter(
    "tixvibe_reservation_conflicts_total",
    "Orders refused because another live order holds the ticket (the losers of a race).",
)
PASSES_ISSUED = Counter(
    "tixvibe_passes_issued_total", "Passes issued: one per seat of an order paid for."
)
CHECK_INS = Counter(
    "tixvibe_check_ins_total",
    "Scans at the door, by outcome: checked-in, repeated (the same scan sent again), already "
    "(checked in before), not-yours (another seller's pass), other-event (the seller's pass of "
    "another listing than the scanner's), invalid (a code we did not sign).",
    ["outcome"],
)
