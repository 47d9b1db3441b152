from __future__ import annotations

import enum
from datetime import datetime

from beanie import Document
from pymongo import IndexModel

EXPIRIES = "expiries"


class ExpiryStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    EXPIRED = "expired"


class Expiry(Document):
    """An order this service has heard of (its `_id` is the order's), and whether its time has
    come. Redis holds the timer; this record is what the timer is rebuilt from."""

    expires_at: datetime
    status: ExpiryStatus = ExpiryStatus.SCHEDULED

    class Settings:
        name = EXPIRIES
        indexes = [IndexModel([("status", 1), ("expires_at", 1)], name="due")]
