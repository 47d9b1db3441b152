from __future__ import annotations

from pydantic import Field

from tixcommon.settings import EventServiceSettings


class TicketsSettings(EventServiceSettings):
    service_name: str = "tickets"
    port: int = 3002
    # How long a listing page is answered as last read when no change is heard of (0: never):
    # what bounds its age should another replica's change go unheard (tickets.page_cache).
    listing_cache_seconds: float = Field(default=1.0, ge=0, le=60)
