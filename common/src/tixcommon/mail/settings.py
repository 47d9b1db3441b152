"""How a service that sends mail reaches its SMTP relay, and how its mail relay retries.

A mixin: a service that mails composes it with its own settings class
(`class OrdersSettings(EventServiceSettings, MailSettings)`), so every setting stays one flat
environment variable and a missing one is named at start with the rest.
"""

from __future__ import annotations

import re
from email.utils import parseaddr
from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_URL = re.compile(r"^https?://[^/\s]+(/\S*)?$")


class MailSettings(BaseSettings):
    # As every settings class's (tixcommon.settings): composed after one of them, a mixin's own
    # default (extra="forbid") would win and refuse the other services' variables.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    # Required, like MONGO_URI: a deployment without a relay would queue mail for ever without
    # a word. `tix dev` and the test kit point them at their local SMTP server.
    smtp_host: str = Field(min_length=1)
    # 587, the submission port, is what relays (SES, Postmark, SendGrid, Mailgun) take, with
    # STARTTLS.
    smtp_port: int = Field(default=587, ge=1, le=65535)
    # Upgrade every connection with STARTTLS (and refuse a relay that does not offer it) unless
    # turned off, which only a relay on the same host or a dev server should be.
    smtp_starttls: bool = True
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    # A CA bundle to verify the relay's certificate with, for a relay with a private CA; empty,
    # the system's CAs.
    smtp_ca_file: str = ""
    # Every SMTP operation's timeout, and the bound of one whole attempt (render and send).
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)

    # The From of every message ("TixVibe <tickets@example.com>"): an address of a domain the
    # relay may send for, or receivers' DMARC checks drop the mail.
    mail_from: str
    # The platform's address as buyers reach it, for the links in messages.
    public_url: str

    # How often the relay looks for due mail besides being woken by one queued here.
    mail_poll_seconds: float = Field(default=1.0, gt=0)
    # A failed attempt is retried after this, doubling per attempt up to the maximum (each
    # delay jittered down by up to half, so a relay's outage does not end in one burst).
    mail_retry_base_seconds: float = Field(default=5.0, gt=0)
    mail_retry_max_seconds: float = Field(default=900.0, gt=0)
    # How long a relay owns a mail it claimed: one that crashed mid-send leaves it to another
    # replica (or itself, restarted) after this.
    mail_lease_seconds: float = Field(default=300.0, gt=0)

    @field_validator("mail_from")
    @classmethod
    def _an_address(cls, value: str) -> str:
        _, address = parseaddr(value)
        if "@" not in address or any(c in value for c in "\r\n"):
            raise ValueError("MAIL_FROM must be an address, e.g. 'TixVibe <tickets@example.com>'")
        return value

    @field_validator("public_url")
    @classmethod
    def _a_url(cls, value: str) -> str:
        if not _URL.match(value):
            raise ValueError("PUBLIC_URL must be an http(s) URL, e.g. https://tixvibe.example")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _safe_relay(self) -> Self:
        if self.smtp_password.get_secret_value() and not self.smtp_starttls:
            raise ValueError("SMTP_PASSWORD is only sent over STARTTLS: set SMTP_STARTTLS=true")
        # A claim must outlive the attempt it covers (bounded by the timeout) and the write
        # that marks the mail sent, or a second replica sends it too.
        if self.mail_lease_seconds <= 2 * self.smtp_timeout_seconds:
            raise ValueError("MAIL_LEASE_SECONDS must exceed twice SMTP_TIMEOUT_SECONDS")
        if self.mail_retry_max_seconds < self.mail_retry_base_seconds:
            raise ValueError("MAIL_RETRY_MAX_SECONDS must be at least MAIL_RETRY_BASE_SECONDS")
        return self

    @property
    def mail_domain(self) -> str:
        """The domain of MAIL_FROM, which names the messages' Message-IDs."""
        return parseaddr(self.mail_from)[1].rpartition("@")[2]
