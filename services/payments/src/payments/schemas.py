from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from tixcommon.fields import ObjectIdStr, text

TOKEN_MAX = 255


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)

    order_id: ObjectIdStr
    # A Stripe PaymentMethod id from Stripe.js (`pm_card_visa` in test mode).
    token: Annotated[str, text("Token", TOKEN_MAX)]


class PaymentOut(BaseModel):
    id: str
