"""The NATS connection, the stream every event lives on, and subject naming."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import nats
import nats.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from tixcommon.events import Subject

logger = logging.getLogger(__name__)

STREAM_BASE_NAME = "TIXVIBE"
DEAD_LETTER_PREFIX = "deadletter"
_STREAM_IN_USE_WITH_OTHER_CONFIG = 10058
_DUPLICATE_WINDOW_SECONDS = 120.0


class EventBus:
    """One NATS connection per process, with JetStream and the (namespaced) TIXVIBE stream."""

    def __init__(
        self,
        nc: NatsClient,
        *,
        namespace: str = "",
        stream_replicas: int = 1,
        max_age_days: int = 30,
    ) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream()
        self.namespace = namespace
        self.stream_replicas = stream_replicas
        self.max_age_days = max_age_days
        self.stream_name = f"{STREAM_BASE_NAME}_{namespace}" if namespace else STREAM_BASE_NAME

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        client_name: str,
        namespace: str = "",
        stream_replicas: int = 1,
        max_age_days: int = 30,
        startup_timeout: float = 30.0,
        drain_timeout: float = 10.0,
    ) -> EventBus:
        """Connect, retrying while the server starts; once connected, reconnect forever."""

        async def on_disconnect() -> None:
            logger.warning("nats disconnected")

        async def on_reconnect() -> None:
            logger.info("nats reconnected")

        async def on_error(error: Exception) -> None:
            logger.debug("nats error", extra={"error": repr(error)})

        deadline = time.monotonic() + startup_timeout
        while True:
            try:
                nc = await nats.connect(
                    url,
                    name=client_name,
                    connect_timeout=2,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    drain_timeout=drain_timeout,
                    disconnected_cb=on_disconnect,
                    reconnected_cb=on_reconnect,
                    error_cb=on_error,
                )
                break
            except (nats.errors.NoServersError, OSError, TimeoutError):
                if time.monotonic() >= deadline:
                    raise
                logger.info("waiting for nats", extra={"url": url})
                await asyncio.sleep(0.5)
        return cls(
            nc, namespace=namespace, stream_replicas=stream_replicas, max_age_days=max_age_days
        )

    def subject(self, name: str) -> str:
        """The wire subject for a contract subject, in this bus's namespace."""
        return f"{self.namespace}.{name}" if self.namespace else name

    async def watch(
        self, pattern: str, on_message: Callable[[], None]
    ) -> Callable[[], Awaitable[None]]:
        """Call `on_message` for every message on the contract subjects `pattern` matches
        (`ticket.*`): a plain subscription, so every process hears each one and nothing is
        stored or acknowledged; for what only needs to know that something happened. Returns
        what ends the subscription."""

        async def heard(_: Msg) -> None:
            on_message()

        subscription = await self.nc.subscribe(self.subject(pattern), cb=heard)
        return subscription.unsubscribe

    def contract_subject(self, wire_subject: str) -> str:
        prefix = f"{self.namespace}." if self.namespace else ""
        return wire_subject.removeprefix(prefix)

    def stream_config(self) -> StreamConfig:
        families = sorted({subject.value.split(".")[0] for subject in Subject})
        return StreamConfig(
            name=self.stream_name,
            subjects=[self.subject(f"{family}.*") for family in families]
            + [self.subject(f"{DEAD_LETTER_PREFIX}.>")],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            num_replicas=self.stream_replicas,
            max_age=self.max_age_days * 86400.0,
            duplicate_window=_DUPLICATE_WINDOW_SECONDS,
        )

    async def ensure_stream(self) -> None:
        """Create the stream, or bring an existing one to this configuration."""
        config = self.stream_config()
        try:
            await self.js.add_stream(config)
        except BadRequestError as error:
            if error.err_code != _STREAM_IN_USE_WITH_OTHER_CONFIG:
                raise
            await self.js.update_stream(config)

    @property
    def is_connected(self) -> bool:
        return bool(self.nc.is_connected)

    async def close(self) -> None:
        if self.nc.is_closed:
            return
        try:
            await self.nc.drain()
        except (nats.errors.Error, TimeoutError, OSError):
            await self.nc.close()
