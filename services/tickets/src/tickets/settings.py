from __future__ import annotations

from tixcommon.settings import EventServiceSettings


class TicketsSettings(EventServiceSettings):
    service_name: str = "tickets"
    port: int = 3002
