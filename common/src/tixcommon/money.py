"""Money: whole cents (an int) inside every service, in storage, arithmetic and Stripe calls; a
decimal number of dollars on the wire, as the HTTP and event contracts say. Converted once, at
each edge, with these two functions."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from pydantic import BaseModel, Field, model_validator

_CENTS_PER_DOLLAR = 100


def to_cents(dollars: float | int | str | Decimal) -> int:
    """A contract amount in dollars as whole cents. A float is read by its shortest repr (what
    the JSON said: 20.1 is 2010 cents, not 2009.99...), never by its binary value."""
    amount = Decimal(repr(dollars)) if isinstance(dollars, float) else Decimal(dollars)
    return int((amount * _CENTS_PER_DOLLAR).to_integral_value(ROUND_HALF_EVEN))


def to_dollars(cents: int) -> float:
    """Whole cents as the contract's dollar amount (exact to the cent once printed)."""
    return cents / _CENTS_PER_DOLLAR


def stored_cents(record: Mapping[str, Any]) -> int:
    """A stored record's price in cents; records written before prices were kept in cents hold
    `price` in dollars instead."""
    cents = record.get("price_cents")
    return int(cents) if cents is not None else to_cents(record["price"])


class PricedInCents(BaseModel):
    """A stored record with a price, older records (`price` in dollars) read as cents too."""

    price_cents: int
    # Declared so that Beanie's projection fetches it from older records; never written.
    price: float | None = Field(default=None, exclude=True, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _read_dollars_of_older_records(cls, data: Any) -> Any:
        if isinstance(data, dict) and "price" in data:
            data = {**data, "price_cents": stored_cents(data)}
            del data["price"]
        return data
