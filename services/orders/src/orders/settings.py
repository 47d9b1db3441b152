from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator

from orders.pass_codes import PassKeys
from tixcommon.mail import MailSettings
from tixcommon.settings import EventServiceSettings


class OrdersSettings(EventServiceSettings, MailSettings):
    """Orders mails each buyer the passes of a completed order (orders.pass_mail)."""

    service_name: str = "orders"
    port: int = 3003
    # How long a buyer has to pay before the reservation lapses.
    expiration_window_seconds: int = Field(default=900, gt=0)
    # The Ed25519 key that signs passes: its 32-byte seed, base64url (`tix dev` makes one; in a
    # cluster it comes from a Secret, never from the image).
    pass_signing_key: SecretStr
    # The public keys (JWK `x`) of keys that signed passes before this one, comma-separated: a
    # rotation keeps the passes they signed valid, and scanners keep checking them offline.
    pass_retired_keys: str = ""

    def pass_keys(self) -> PassKeys:
        return PassKeys.from_settings(
            self.pass_signing_key.get_secret_value(),
            [key for key in self.pass_retired_keys.split(",") if key.strip()],
        )

    @model_validator(mode="after")
    def _pass_keys_are_keys(self) -> Self:
        try:
            self.pass_keys()
        except ValueError as error:
            raise ValueError(
                f"PASS_SIGNING_KEY and PASS_RETIRED_KEYS: {error} (make one with: python -c "
                "'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode()"
                '.rstrip("="))\')'
            ) from None
        return self
