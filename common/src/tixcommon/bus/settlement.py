"""What becomes of a delivered event: one decision from what handling it came to, which
delivery it was, and the consumer's policy. The listener runner carries the decision out.

    handled                                        -> ack
    not yet (an earlier version is due)            -> nak, after retry_delay(delivery)
      ... on the last delivery                     -> keep it in hand (two ack waits more)
      ... on the last delivery, kept in hand       -> dead letter
    failed (the handler raised)                    -> nak, after retry_delay(delivery)
      ... on the last delivery                     -> dead letter
    unparseable (no retry will ever parse it)      -> dead letter
    an outage met while stopping                   -> nak, after retry_base (another replica
                                                      takes it soon)

An outage while running is never settled: the runner retries the event in hand until the
dependency is back, without using a delivery.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Result(enum.Enum):
    HANDLED = "handled"
    NOT_YET = "not yet"
    FAILED = "failed"
    UNPARSEABLE = "unparseable"
    STOPPED_IN_OUTAGE = "stopped in an outage"


class Action(enum.Enum):
    ACK = "ack"
    NAK = "nak"
    KEEP_IN_HAND = "keep in hand"
    DEAD_LETTER = "dead letter"


@dataclass(frozen=True)
class Settlement:
    action: Action
    delay: float | None = None  # for a nak: when JetStream may deliver it again


@dataclass(frozen=True)
class DeliveryPolicy:
    max_deliver: int = 20
    ack_wait_seconds: float = 30.0
    retry_base_seconds: float = 0.1
    retry_max_seconds: float = 30.0
    batch: int = 10

    def retry_delay(self, attempt: int) -> float:
        return float(min(self.retry_base_seconds * 2 ** (attempt - 1), self.retry_max_seconds))

    def outage_pause(self, outages: int) -> float:
        """The wait before retrying an event in hand through an outage: growing like a
        redelivery's, but short enough to renew the message's ack wait in time."""
        return min(self.retry_delay(outages), self.ack_wait_seconds / 3)


def settle(
    result: Result, attempt: int, policy: DeliveryPolicy, *, kept_in_hand: bool = False
) -> Settlement:
    """The decision for delivery number `attempt` (from 1) of an event."""
    last = attempt >= policy.max_deliver
    if result is Result.HANDLED:
        return Settlement(Action.ACK)
    if result is Result.UNPARSEABLE:
        return Settlement(Action.DEAD_LETTER)
    if result is Result.STOPPED_IN_OUTAGE:
        return Settlement(Action.NAK, policy.retry_base_seconds)
    if not last:
        return Settlement(Action.NAK, policy.retry_delay(attempt))
    if result is Result.NOT_YET and not kept_in_hand:
        # The earlier event may be held by a replica that crashed: it comes back only after
        # the ack wait, however short the redelivery budget was.
        return Settlement(Action.KEEP_IN_HAND)
    return Settlement(Action.DEAD_LETTER)
