from __future__ import annotations

from pydantic import Field, SecretStr

from tixcommon.settings import EventServiceSettings


class PaymentsSettings(EventServiceSettings):
    service_name: str = "payments"
    port: int = 3005

    stripe_key: SecretStr
    stripe_webhook_secret: SecretStr
    # Real Stripe in production; the local Stripe-compatible server in dev and tests.
    stripe_api_base: str = "https://api.stripe.com"
    stripe_timeout_seconds: float = Field(default=30.0, gt=0)
    currency: str = "usd"
    # A payment claim left "pending" this long by a crashed request may be taken over.
    payment_claim_timeout_seconds: int = Field(default=120, gt=0)
