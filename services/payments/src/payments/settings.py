from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator

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
    # A payment claim left "pending" this long was abandoned by its request (which crashed or
    # lost Stripe's answer) and is settled from Stripe's record. Longer than a request can take.
    payment_claim_timeout_seconds: float = Field(default=120, gt=0)
    # How often each replica looks for abandoned claims.
    payment_settle_seconds: float = Field(default=30, gt=0)

    @model_validator(mode="after")
    def _claims_outlive_requests(self) -> Self:
        # A request makes two Stripe calls; its claim must not be settled under it.
        if self.payment_claim_timeout_seconds <= 2 * self.stripe_timeout_seconds:
            raise ValueError(
                "PAYMENT_CLAIM_TIMEOUT_SECONDS must exceed twice STRIPE_TIMEOUT_SECONDS"
            )
        return self
