from __future__ import annotations

import pytest

from tixcommon.settings import ConfigurationError, EventServiceSettings, load_settings


class ExampleSettings(EventServiceSettings):
    service_name: str = "example"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JWT_KEY", "MONGO_URI", "NATS_URL", "ENVIRONMENT", "MONGO_DB", "EVENTS_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir("/")  # no stray .env file


def test_missing_settings_are_all_named_in_one_message() -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings(ExampleSettings)

    message = str(raised.value)
    assert "JWT_KEY is required" in message
    assert "MONGO_URI is required" in message
    assert "NATS_URL is required" in message


def test_short_jwt_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_KEY", "short")
    monkeypatch.setenv("MONGO_URI", "mongodb://localhost")
    monkeypatch.setenv("NATS_URL", "nats://localhost")

    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        load_settings(ExampleSettings)


def test_placeholder_jwt_key_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_KEY", "changeme" * 4)
    monkeypatch.setenv("MONGO_URI", "mongodb://localhost")
    monkeypatch.setenv("NATS_URL", "nats://localhost")

    with pytest.raises(ConfigurationError, match="placeholder"):
        load_settings(ExampleSettings)
    monkeypatch.setenv("ENVIRONMENT", "dev")
    assert load_settings(ExampleSettings).environment == "dev"


def test_valid_environment_gives_settings_with_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_KEY", "k" * 40)
    monkeypatch.setenv("MONGO_URI", "mongodb://db:27017")
    monkeypatch.setenv("NATS_URL", "nats://nats:4222")

    settings = load_settings(ExampleSettings)

    assert settings.database_name == "example"
    assert settings.jwt_lifetime_seconds == 86400
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.events_namespace == ""
