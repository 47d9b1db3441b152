"""Money is whole cents inside a service and decimal dollars on the wire: converting either way
loses nothing, and records stored in dollars before are read as cents."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from tixcommon.money import PricedInCents, stored_cents, to_cents, to_dollars


@given(st.integers(min_value=0, max_value=100_000_000))
def test_cents_survive_the_round_trip_through_the_wire(cents: int) -> None:
    # As the contract carries it: a JSON number of dollars, parsed back as a float.
    on_the_wire = orjson.loads(orjson.dumps({"price": to_dollars(cents)}))["price"]
    assert to_cents(on_the_wire) == cents


def test_dollars_are_read_by_what_they_say_not_by_their_binary_value() -> None:
    assert to_cents(20.1) == 2010  # 20.1 * 100 is 2010.0000000000002
    assert to_cents(0.29) == 29  # 0.29 * 100 is 28.999999999999996
    assert to_cents("19.99") == 1999
    assert to_cents(5) == 500


class Listing(PricedInCents):
    title: str


def test_a_record_stored_in_dollars_is_read_in_cents() -> None:
    assert Listing.model_validate({"title": "old", "price": 12.5}).price_cents == 1250
    assert Listing.model_validate({"title": "new", "price_cents": 1250}).price_cents == 1250
    assert stored_cents({"price": 0.29}) == 29
    assert stored_cents({"price_cents": 29, "price": 99.0}) == 29
