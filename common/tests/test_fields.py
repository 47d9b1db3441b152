"""The documented fields: what each one's JSON Schema calls valid is exactly what it accepts."""

from __future__ import annotations

import re
from typing import Annotated, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import TypeAdapter, ValidationError

from tixcommon.fields import ObjectIdStr, range_pattern, seat_count, text, whole_number

FIELDS: dict[str, Any] = {
    "text": Annotated[str, text("Title", 10)],
    "blank text": Annotated[str, text("Description", 10, blank=True)],
    "whole number": Annotated[int, whole_number("Out of range", 1, 250)],
    "seats": Annotated[int, seat_count(10_000)],
    "object id": ObjectIdStr,
}
PROBES: list[object] = [
    *("", " ", " \t\n", "\u00a0", "x", " x ", "x" * 10, "x" * 11, " " * 10 + "x"),
    *(0, 1, 10, 250, 251, 10_000, 10_001, -1, 1.0, 2.5, True, None, [], {}),
    *("0", "1", "007", "250", "251", " 12 ", "1e2", "10000", "10001", "١٢", "+5", "-1"),
    *("0" * 24, "a" * 24, "A" * 24, "g" * 24, "0" * 23, "0" * 25),
]


def accepts(kind: str, value: object) -> bool:
    try:
        TypeAdapter(FIELDS[kind]).validate_python(value)
    except ValidationError:
        return False
    return True


def documents(kind: str, value: object) -> bool:
    schema = TypeAdapter(FIELDS[kind]).json_schema()
    return Draft202012Validator(schema).is_valid(value)


@pytest.mark.parametrize("kind", list(FIELDS))
def test_a_field_accepts_exactly_what_its_schema_documents(kind: str) -> None:
    differ = [value for value in PROBES if accepts(kind, value) != documents(kind, value)]
    assert not differ
    assert any(accepts(kind, value) for value in PROBES)  # the probes reach both sides


@given(value=st.text(max_size=14) | st.integers(-5, 10_005) | st.from_regex(r"\s*[0-9]{1,5}\s*"))
def test_any_value_is_accepted_exactly_when_documented(value: object) -> None:
    for kind in FIELDS:
        assert accepts(kind, value) == documents(kind, value), kind


@pytest.mark.parametrize("high", [1, 7, 10, 99, 100, 250, 10_000, 1_000_000])
def test_a_range_pattern_matches_exactly_the_numbers_in_range(high: int) -> None:
    matched = {n for n in range(0, 2 * high + 2) if re.fullmatch(range_pattern(1, high), str(n))}
    assert matched == set(range(1, high + 1))


def test_text_is_stored_stripped_and_refused_with_the_contracts_messages() -> None:
    title = TypeAdapter(FIELDS["text"])
    assert title.validate_python("  x  ") == "x"
    with pytest.raises(ValidationError, match="Title is required"):
        title.validate_python("   ")
    with pytest.raises(ValidationError, match="Title must be at most 10 characters"):
        title.validate_python("x" * 11)
