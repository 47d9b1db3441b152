"""The web client's configuration, from 12-factor environment variables."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator

from tixcommon.settings import ProcessSettings

_STRIPE_JS_ORIGIN = "https://js.stripe.com"
# What the real Stripe.js loads and calls besides its own script (Stripe's CSP guide).
_STRIPE_EXTRA_ORIGINS = ("https://api.stripe.com", "https://hooks.stripe.com")


class ClientSettings(ProcessSettings):
    service_name: str = "client"

    # The router in front of the services (the local gateway, or the ingress). Each service's
    # own address, when set, is used instead: in Kubernetes and in `tix dev` the client calls
    # the services directly, so the caller's address reaches them after exactly one router.
    api_url: str = "http://127.0.0.1:8080"
    auth_url: str = ""
    tickets_url: str = ""
    orders_url: str = ""
    payments_url: str = ""
    waitingroom_url: str = ""
    # Above auth's bound on a sign-in's wait for its hash (PASSWORD_HASH_MAX_WAIT_SECONDS, 20 s):
    # at an on-sale a sign-in auth has accepted is answered, not cut off by the page.
    api_timeout_seconds: float = Field(default=30.0, gt=0)

    stripe_js_url: str = "https://js.stripe.com/v3/"
    # Publishable (pk_...), meant for browsers: not a secret.
    stripe_publishable_key: str = ""

    @field_validator(
        "api_url", "auth_url", "tickets_url", "orders_url", "payments_url", "waitingroom_url"
    )
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    def backend_url(self, service: str) -> str:
        direct: str = getattr(self, f"{service}_url", "")
        return direct or self.api_url

    @property
    def stripe_origins(self) -> list[str]:
        """Where the card field's script, frames and calls come from (for the CSP)."""
        parts = urlsplit(self.stripe_js_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin == _STRIPE_JS_ORIGIN:
            return [origin, *_STRIPE_EXTRA_ORIGINS]
        return [origin]
