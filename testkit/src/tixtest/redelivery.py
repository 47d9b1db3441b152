"""JetStream's worst case, on demand: a listener's events in any order, duplicated, redelivered.

Property-based tests (hypothesis) hand `deliver_until_settled` the events an owner published,
with each duplicate they want, and a `choose` that picks which pending delivery comes next.
Every delivery goes to the service's real listener against its real database, just as the
ListenerRunner would call it; RETRY_LATER puts the event back (to come again later, in any
order), ACK retires that copy. The run ends when every copy is acknowledged: the replica must
then equal the owner's final state, whatever the order was.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tixcommon.bus import Delivery, Listener, Outcome
from tixcommon.events.base import Event

Chooser = Callable[[int], int]
"""Given how many deliveries are pending, the index of the one to deliver next."""


@dataclass
class _Pending:
    event: Event
    event_id: str
    attempt: int = 1


class Unsettled(AssertionError):
    """Some event was never acknowledged: the listeners wait for each other forever."""


async def deliver_until_settled(
    listeners: Mapping[type[Event], Listener[Any]],
    deliveries: Sequence[Event],
    choose: Chooser,
    *,
    max_rounds: int = 50,
) -> int:
    """Deliver every event in `deliveries` (repeats are redeliveries of the same message) until
    each is acknowledged; return how many handle() calls it took."""
    ids: dict[int, str] = {}
    pending = []
    for event in deliveries:
        # A duplicate is the same message delivered again: same id, as JetStream would.
        event_id = ids.setdefault(id(event), uuid.uuid4().hex)
        pending.append(_Pending(event, event_id))
    calls = 0
    budget = max_rounds * max(len(pending), 1)
    while pending:
        if calls >= budget:
            raise Unsettled(f"still unacknowledged after {calls} deliveries: {pending}")
        item = pending.pop(choose(len(pending)))
        listener = listeners[type(item.event)]
        delivery = Delivery(
            event_id=item.event_id,
            subject=item.event.subject.value,
            attempt=item.attempt,
            stream_sequence=calls + 1,
            request_id=None,
        )
        calls += 1
        outcome = await listener.handle(item.event, delivery)
        if outcome is Outcome.RETRY_LATER:
            item.attempt += 1
            pending.append(item)
    return calls
