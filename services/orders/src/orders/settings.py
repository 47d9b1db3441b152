from __future__ import annotations

from pydantic import Field

from tixcommon.settings import EventServiceSettings


class OrdersSettings(EventServiceSettings):
    service_name: str = "orders"
    port: int = 3003
    # How long a buyer has to pay before the reservation lapses.
    expiration_window_seconds: int = Field(default=900, gt=0)
