"""What the waiting room counts, beside the metrics every service has (tixcommon.metrics)."""

from __future__ import annotations

from prometheus_client import Counter

JOINS = Counter(
    "tixvibe_waitingroom_joins_total",
    "Joins of a room, by outcome: joined, existing (the same place again) or refused.",
    ["outcome"],
)
ADMISSIONS = Counter("tixvibe_waitingroom_admissions_total", "Buyers admitted to buy.")
DRAWN = Counter(
    "tixvibe_waitingroom_drawn_total", "Early joiners placed by a draw at a sale's start."
)
