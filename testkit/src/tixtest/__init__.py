"""Test support shared by every package: real servers, isolation, users, event helpers."""

from tixdev.servers import (
    MongoServer,
    NatsServer,
    RedisServer,
    StripeServer,
    free_port,
    free_port_block,
)
from tixtest.events import (
    EventTimeout,
    consumers_idle,
    stream_messages,
    wait_for_event,
    wait_until,
)
from tixtest.metrics import metric
from tixtest.plugin import SignedInUser, dependencies_opened, serve_app
from tixtest.proxy import TcpProxy
from tixtest.redelivery import Unsettled, deliver_until_settled
from tixtest.smtp import SmtpServer, self_signed_tls

__all__ = [
    "EventTimeout",
    "MongoServer",
    "NatsServer",
    "RedisServer",
    "SignedInUser",
    "SmtpServer",
    "StripeServer",
    "TcpProxy",
    "Unsettled",
    "consumers_idle",
    "deliver_until_settled",
    "dependencies_opened",
    "free_port",
    "free_port_block",
    "metric",
    "self_signed_tls",
    "serve_app",
    "stream_messages",
    "wait_for_event",
    "wait_until",
]
