"""Test support shared by every package: real servers, isolation, users, event helpers."""

from tixcommon.testing.events import (
    EventTimeout,
    consumers_idle,
    stream_messages,
    wait_for_event,
    wait_until,
)
from tixcommon.testing.plugin import SignedInUser, dependencies_opened, serve_app
from tixcommon.testing.proxy import TcpProxy
from tixcommon.testing.redelivery import Unsettled, deliver_until_settled
from tixcommon.testing.servers import (
    MongoServer,
    NatsServer,
    RedisServer,
    StripeServer,
    free_port,
    free_port_block,
)

__all__ = [
    "EventTimeout",
    "MongoServer",
    "NatsServer",
    "RedisServer",
    "SignedInUser",
    "StripeServer",
    "TcpProxy",
    "Unsettled",
    "consumers_idle",
    "deliver_until_settled",
    "dependencies_opened",
    "free_port",
    "free_port_block",
    "serve_app",
    "stream_messages",
    "wait_for_event",
    "wait_until",
]
