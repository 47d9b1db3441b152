"""The documented fields: what each one's JSON Schema calls valid is exactly what it accepts.

A schema's `pattern` is an ECMA-262 regular expression, which is how a JavaScript client reads
it; Python's re (which jsonschema uses) reads some escapes differently (`\\s`, for one). So each
field is judged by its schema twice, once with each engine (regress: the Rust crate of
ECMA-262's regular expressions), and both must agree with what the field accepts.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

import pytest
import regress
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError as SchemaError
from pydantic import TypeAdapter, ValidationError

from tixcommon.fields import (
    ANY,
    NOT_BLANK,
    SPACE,
    WHITESPACE,
    ObjectIdStr,
    iso_utc,
    range_pattern,
    seat_count,
    text,
    to_milliseconds,
    whole_number,
)

FIELDS: dict[str, Any] = {
    "text": Annotated[str, text("Title", 10)],
    "blank text": Annotated[str, text("Description", 10, blank=True)],
    "whole number": Annotated[int, whole_number("Out of range", 1, 250)],
    "seats": Annotated[int, seat_count(10_000)],
    "object id": ObjectIdStr,
}
# ECMA-262 with and without the `u` flag (JSON Schema asks for Unicode semantics; a client's
# `new RegExp(pattern)` has none): the patterns must mean the same either way.
ECMA_FLAGS = ("u", "")
EVERY_CHARACTER = [
    chr(point) for point in range(sys.maxunicode + 1) if not 0xD800 <= point < 0xE000
]


@functools.cache
def _ecma_regex(pattern: str, flags: str) -> regress.Regex:
    return regress.Regex(pattern, flags or None)


def _is_space_somewhere(character: str) -> bool:
    """Blank to one of the engines: Python's str, Python's re or ECMA-262."""
    return (
        character.isspace()
        or re.fullmatch(r"\s", character) is not None
        or _ecma_regex(r"^\s$", "u").find(character) is not None
    )


# Every character one engine or the other calls whitespace (U+001C-U+001F and U+0085 are
# Python's only, U+FEFF is ECMA's only), and the invisible ones neither does.
SEPARATORS = [c for c in EVERY_CHARACTER if _is_space_somewhere(c)] + [
    *("\x00", "\x08", "\x7f", "\u00ad", "\u180e", "\u200b", "\u200c", "\u200d", "\u2060"),
]
PROBES: list[object] = [
    *("", " ", " \t\n", "\u00a0", "x", " x ", "x" * 10, "x" * 11, " " * 10 + "x"),
    *(0, 1, 10, 250, 251, 10_000, 10_001, -1, 1.0, 2.5, True, None, [], {}),
    *("0", "1", "007", "250", "251", " 12 ", "1e2", "10000", "10001", "١٢", "+5", "-1"),
    *("0" * 24, "a" * 24, "A" * 24, "g" * 24, "0" * 23, "0" * 25),
    "\x1c\x1d\x1e\x1f",  # the token schemathesis found: blank to Python, not to ECMA-262
    *SEPARATORS,
    *(f"{separator}x{separator}" for separator in SEPARATORS),
    *(f"{separator}12{separator}" for separator in SEPARATORS),
    *(f"{'0' * 24}{separator}" for separator in SEPARATORS),
]


def _ecma_validator(flags: str) -> Any:
    """A JSON Schema 2020-12 validator whose `pattern` is read by an ECMA-262 engine instead of
    Python's re."""

    def pattern(
        validator: Any, pattern: str, instance: object, schema: dict[str, Any]
    ) -> Iterator[SchemaError]:
        if isinstance(instance, str) and _ecma_regex(pattern, flags).find(instance) is None:
            yield SchemaError(f"{instance!r} does not match {pattern!r} in ECMA-262 ({flags=})")

    # types-jsonschema declares extend without types.
    return validators.extend(Draft202012Validator, {"pattern": pattern})  # type: ignore[no-untyped-call]


ECMA_VALIDATORS = {flags: _ecma_validator(flags) for flags in ECMA_FLAGS}


@functools.cache
def adapter(kind: str) -> TypeAdapter[Any]:
    return TypeAdapter(FIELDS[kind])


def accepts(kind: str, value: object) -> bool:
    try:
        adapter(kind).validate_python(value)
    except ValidationError:
        return False
    return True


def schema_of(kind: str) -> dict[str, Any]:
    return adapter(kind).json_schema()


def documents(kind: str, value: object) -> bool:
    """Valid by the field's schema, its patterns read by Python's re."""
    return Draft202012Validator(schema_of(kind)).is_valid(value)


def documents_in_ecma(kind: str, value: object, flags: str) -> bool:
    """Valid by the field's schema, its patterns read as ECMA-262 (what a JavaScript client and
    schemathesis' `pattern` mean)."""
    return bool(ECMA_VALIDATORS[flags](schema_of(kind)).is_valid(value))


def disagreements(kind: str, value: object) -> list[str]:
    accepted = accepts(kind, value)
    readings = {"python re": documents(kind, value)} | {
        f"ecma-262 /{flags}": documents_in_ecma(kind, value, flags) for flags in ECMA_FLAGS
    }
    return [
        f"{engine}: {judged}, accepted: {accepted}"
        for engine, judged in readings.items()
        if judged != accepted
    ]


@pytest.mark.parametrize("kind", list(FIELDS))
def test_a_field_accepts_exactly_what_its_schema_documents_in_either_engine(kind: str) -> None:
    differ = {repr(value): disagreements(kind, value) for value in PROBES}
    assert not {value: why for value, why in differ.items() if why}
    assert any(accepts(kind, value) for value in PROBES)  # the probes reach both sides


_SEPARATOR = st.sampled_from(SEPARATORS)
_PADDED_DIGITS = st.tuples(
    st.text(_SEPARATOR, max_size=3),
    st.from_regex(r"[0-9]{1,5}", fullmatch=True),
    st.text(_SEPARATOR, max_size=3),
).map("".join)


@given(
    value=st.text(max_size=14)
    | st.text(_SEPARATOR | st.sampled_from("x1"), max_size=12)
    | _PADDED_DIGITS
    | st.integers(-5, 10_005)
)
def test_any_value_is_accepted_exactly_when_documented_in_either_engine(value: object) -> None:
    for kind in FIELDS:
        assert not disagreements(kind, value), kind


@pytest.mark.parametrize("flags", ECMA_FLAGS)
@pytest.mark.parametrize("pattern", [SPACE, NOT_BLANK, ANY])
def test_both_engines_read_each_character_class_alike(pattern: str, flags: str) -> None:
    ecma, python = _ecma_regex(f"^{pattern}$", flags), re.compile(pattern)
    differ = [
        f"U+{ord(character):04X}"
        for character in EVERY_CHARACTER
        if (ecma.find(character) is None) != (python.fullmatch(character) is None)
    ]
    assert not differ


def test_blank_is_what_ecma_262_calls_white_space_and_line_terminators() -> None:
    ecma = _ecma_regex(r"^\s$", "u")
    assert {c for c in EVERY_CHARACTER if ecma.find(c) is not None} == set(WHITESPACE)
    assert {c for c in EVERY_CHARACTER if re.fullmatch(SPACE, c)} == set(WHITESPACE)


@pytest.mark.parametrize("high", [1, 7, 10, 99, 100, 250, 10_000, 1_000_000])
def test_a_range_pattern_matches_exactly_the_numbers_in_range(high: int) -> None:
    python, ecma = (
        re.compile(range_pattern(1, high)),
        _ecma_regex(f"^(?:{range_pattern(1, high)})$", "u"),
    )
    numbers = [str(n) for n in range(0, 2 * high + 2)]
    assert {int(n) for n in numbers if python.fullmatch(n)} == set(range(1, high + 1))
    assert {int(n) for n in numbers if ecma.find(n)} == set(range(1, high + 1))


def test_text_is_stored_stripped_and_refused_with_the_contracts_messages() -> None:
    title = TypeAdapter(FIELDS["text"])
    assert title.validate_python("  x  ") == "x"
    assert title.validate_python("\ufeff\u3000x\u2028") == "x"
    # Not blank in ECMA-262, so neither here: kept as sent.
    assert title.validate_python("\x1cx\x85") == "\x1cx\x85"
    with pytest.raises(ValidationError, match="Title is required"):
        title.validate_python("   ")
    with pytest.raises(ValidationError, match="Title is required"):
        title.validate_python("\ufeff\u00a0")
    with pytest.raises(ValidationError, match="Title must be at most 10 characters"):
        title.validate_python("x" * 11)


def test_a_number_in_a_string_may_have_blanks_around_it_and_nothing_else() -> None:
    seats = TypeAdapter(FIELDS["seats"])
    assert seats.validate_python("\u3000 12\ufeff") == 12
    with pytest.raises(ValidationError):
        seats.validate_python("\x1c12")


def test_a_moment_is_kept_and_written_to_the_millisecond_in_utc() -> None:
    moment = datetime(2026, 12, 7, 18, 30, 5, 250_999, tzinfo=UTC)

    assert to_milliseconds(moment) == datetime(2026, 12, 7, 18, 30, 5, 250_000, tzinfo=UTC)
    assert iso_utc(moment) == "2026-12-07T18:30:05.250Z"
