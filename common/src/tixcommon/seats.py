"""A number of seats in a request body: a whole number in a range, given as a JSON number or a
string of digits (as a form sends it), refused with one clear message otherwise."""

from __future__ import annotations

from pydantic import BeforeValidator


def seat_count(maximum: int) -> BeforeValidator:
    """The validator of a field holding 1 to `maximum` seats (`Annotated[int, seat_count(n)]`)."""
    invalid = f"Quantity must be a whole number of seats from 1 to {maximum}"

    def parse(value: object) -> int:
        # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
        if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
            raise ValueError(invalid)
        return value

    return BeforeValidator(parse)
