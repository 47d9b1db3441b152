"""What the image tests run: the servers behind the data Services, and the pods."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kube import Doc, Manifests, pod_spec
from pods import Pod

from tixdev.servers import ManagedServer
from tixtest import MongoServer, NatsServer, RedisServer, SmtpServer, StripeServer


class StatefulSetRedis(RedisServer):
    """Redis run with its StatefulSet's own arguments (persistence, memory policy), so the
    fleet's Redis keeps and refuses what the cluster's would; only the address, the port and
    the data directory are the test's."""

    def __init__(self, statefulset: Doc, port: int, data_dir: Path) -> None:
        super().__init__(port, data_dir)
        (container,) = pod_spec(statefulset)["containers"]
        self.arguments: list[str] = list(container["args"])

    def command(self) -> list[str]:
        binary = super().command()[0]
        arguments = list(self.arguments)
        arguments[arguments.index("--dir") + 1] = str(self.data_dir)
        return [binary, "--bind", "127.0.0.1", "--port", str(self.port), *arguments]


@dataclass
class Servers:
    mongo: MongoServer
    nats: NatsServer
    redis: StatefulSetRedis  # the expiration queue
    room_redis: StatefulSetRedis  # the waiting room's
    stripe: StripeServer
    smtp: SmtpServer  # the relay smtp-secret names, on the dev overlay's port

    def behind(self) -> dict[str, ManagedServer]:
        """The server that stands in for each data workload, by the app.kubernetes.io/name its
        Services select (every MongoDB is one server here: each service has its own database)."""
        return {
            "mongo": self.mongo,
            "nats": self.nats,
            "redis": self.redis,
            "waitingroom-redis": self.room_redis,
        }


@dataclass
class Fleet:
    manifests: Manifests
    pods: dict[str, Pod]
    servers: Servers
    gateway: str
    webhook_secret: str

    def pod(self, name: str) -> Pod:
        return self.pods[name]
