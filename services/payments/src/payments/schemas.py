from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from tixcommon.db import ObjectIdStr


def _token(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("Token is required")
    if len(value) > 255:
        raise ValueError("Token is too long")
    return value


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)

    order_id: ObjectIdStr
    token: Annotated[str, AfterValidator(_token)]


class PaymentOut(BaseModel):
    id: str
