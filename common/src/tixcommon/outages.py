"""Telling "a dependency is away" from "we have a bug".

An outage (the database, the broker or the payment provider unreachable) changes nothing and
passes: a request that meets one is answered 503 and may be retried, and an event that meets
one is retried in place until the dependency is back, without using up the deliveries that
exist to set aside events no retry will ever fix.
"""

from __future__ import annotations

import nats.errors
from pymongo.errors import ConnectionFailure, PyMongoError

from tixcommon.errors import ServiceUnavailable

OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    ConnectionFailure,  # server selection, network timeouts, dropped connections
    nats.errors.ConnectionClosedError,
    nats.errors.NoServersError,
    nats.errors.TimeoutError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.NoRespondersError,
    ServiceUnavailable,  # raised by our own code on another provider's outage (Stripe, Redis)
)

# Labels MongoDB puts on errors a retry of the same operation may get past.
_TRANSIENT_LABELS = ("TransientTransactionError", "RetryableWriteError")


def is_outage(error: BaseException) -> bool:
    if isinstance(error, OUTAGE_ERRORS):
        return True
    if isinstance(error, PyMongoError):
        return any(error.has_error_label(label) for label in _TRANSIENT_LABELS)
    return False
