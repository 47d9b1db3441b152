"""NATS JetStream: connection and stream, publisher, listeners, and the transactional outbox."""

from tixcommon.bus.connection import EventBus
from tixcommon.bus.listener import (
    Delivery,
    Handler,
    Listener,
    ListenerRunner,
    Outcome,
    Subscription,
    on,
)
from tixcommon.bus.outbox import Outbox, OutboxRelay, Transaction
from tixcommon.bus.publisher import Publisher
from tixcommon.bus.settlement import DeliveryPolicy

__all__ = [
    "Delivery",
    "DeliveryPolicy",
    "EventBus",
    "Handler",
    "Listener",
    "ListenerRunner",
    "Outbox",
    "OutboxRelay",
    "Outcome",
    "Publisher",
    "Subscription",
    "Transaction",
    "on",
]
