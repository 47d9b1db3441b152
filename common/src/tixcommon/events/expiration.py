from __future__ import annotations

from tixcommon.events.base import EntityId, Event, Subject


class ExpirationComplete(Event):
    subject = Subject.EXPIRATION_COMPLETE

    order_id: EntityId
