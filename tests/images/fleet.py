"""What the image tests run: the servers behind the data Services, and the pods."""

from __future__ import annotations

from dataclasses import dataclass

from kube import Manifests
from pods import Pod

from tixtest import MongoServer, NatsServer, RedisServer, StripeServer


@dataclass
class Servers:
    mongo: MongoServer
    nats: NatsServer
    redis: RedisServer
    stripe: StripeServer

    def by_port(self) -> dict[int, str]:
        return {self.mongo.port: "mongo", self.nats.port: "nats", self.redis.port: "redis"}


@dataclass
class Fleet:
    manifests: Manifests
    pods: dict[str, Pod]
    servers: Servers
    gateway: str
    webhook_secret: str

    def pod(self, name: str) -> Pod:
        return self.pods[name]
