"""Configuration from 12-factor environment variables, validated once at start-up.

Every service's settings class extends one of these; a missing or unsafe value stops the service
at start with one clear message instead of failing on the first request.
"""

from __future__ import annotations

from typing import Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["dev", "test", "production"]

# Values people paste from tutorials; a deployment that keeps one is not a deployment.
_PLACEHOLDER_SECRETS = {
    "changeme" * 4,
    "change-me-change-me-change-me-change-me",
    "secretsecretsecretsecretsecretsecret",
    "0" * 32,
    "x" * 32,
}
_MIN_KEY_LENGTH = 32


class ConfigurationError(RuntimeError):
    """The environment does not describe a runnable service."""


class ProcessSettings(BaseSettings):
    """What every HTTP process needs, the web client included: identity, address, limits."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    service_name: str
    environment: Environment = "production"
    log_level: str = "INFO"
    host: str = "0.0.0.0"  # noqa: S104 - a container listens on all interfaces
    port: int = 8000

    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    # How many routers (ingress, gateway) append to X-Forwarded-For in front of us: the client's
    # address is that many entries from the right. 0 trusts no header and uses the peer address.
    trusted_proxy_hops: int = Field(default=1, ge=0)
    # Where Prometheus scrapes `/metrics`: a port of its own that no router sends the public to.
    # Unset, no metrics are served.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)


class ServiceSettings(ProcessSettings):
    """What every backend service needs besides: the session key and its database."""

    jwt_key: SecretStr
    jwt_lifetime_seconds: int = Field(default=24 * 3600, gt=0)

    mongo_uri: str
    mongo_db: str = ""
    mongo_timeout_ms: int = Field(default=5000, gt=0)

    @property
    def database_name(self) -> str:
        return self.mongo_db or self.service_name

    @model_validator(mode="after")
    def _refuse_weak_secrets(self) -> ServiceSettings:
        key = self.jwt_key.get_secret_value()
        # HS256 wants at least 32 bytes of key (RFC 7518 3.2); a shorter one is guessable.
        if len(key.encode()) < _MIN_KEY_LENGTH:
            raise ValueError(
                f"JWT_KEY must be a random value of at least {_MIN_KEY_LENGTH} bytes "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if self.environment == "production" and key.lower() in _PLACEHOLDER_SECRETS:
            raise ValueError("JWT_KEY is a placeholder; set a random secret in production")
        return self


class EventServiceSettings(ServiceSettings):
    """A service that publishes or listens to events on NATS JetStream."""

    nats_url: str
    # Prefixes every subject and the stream name, so several environments (or tests) can share
    # one NATS server without hearing each other.
    events_namespace: str = Field(default="", pattern=r"^[A-Za-z0-9_-]*$")
    events_stream_replicas: int = Field(default=1, ge=1, le=5)
    events_max_age_days: int = Field(default=30, gt=0)

    listener_max_deliver: int = Field(default=20, ge=2)
    listener_ack_wait_seconds: float = Field(default=30.0, gt=0)
    listener_retry_base_seconds: float = Field(default=0.1, gt=0)
    listener_retry_max_seconds: float = Field(default=30.0, gt=0)
    listener_batch: int = Field(default=10, ge=1)

    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    # How often consumer lag and the outbox's depth are read into the metrics (when served).
    metrics_sample_seconds: float = Field(default=5.0, gt=0)
    drain_timeout_seconds: float = Field(default=10.0, gt=0)


SettingsT = TypeVar("SettingsT", bound=ProcessSettings)


def load_settings(cls: type[SettingsT]) -> SettingsT:
    """Read settings from the environment, or fail with one message naming every problem."""
    try:
        return cls()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]).upper() or "settings"
            if error["type"] == "missing":
                problems.append(f"{name} is required")
            else:
                problems.append(f"{name}: {error['msg'].removeprefix('Value error, ')}")
        raise ConfigurationError(
            f"{cls.__name__}: invalid configuration: " + "; ".join(problems)
        ) from None
