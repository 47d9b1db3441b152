"""Request fields that document exactly what they enforce.

Each builder makes a field's validator (with the contract's messages) and its JSON Schema, which
is what the OpenAPI documents say, from the same bounds, so the two cannot drift. A rule that a
JSON Schema can state is stated: lengths, ranges, patterns. Strings are checked as they arrive
(a schema's `maxLength` counts the characters sent), then stored stripped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date as date_
from datetime import datetime
from typing import Annotated, Any

from annotated_types import GroupedMetadata
from fastapi import Path
from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

OBJECT_ID_PATTERN = "^[0-9a-fA-F]{24}$"

# What "blank" means, the one definition both the documents and the validators use: ECMA-262's
# WhiteSpace and LineTerminator, which is what a JSON Schema pattern's `\s` means and what a
# JavaScript client's `trim()` removes. Python's `\s` and `str.strip()` differ from it (they take
# the separators U+001C-U+001F and U+0085, and leave U+FEFF), and which characters an engine's
# `\s` takes has changed with Unicode versions (U+180E), so no pattern says `\s` or `\S`: each
# spells this set out in `\uXXXX` escapes, which Python's re and ECMA-262 read alike.
WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def _escaped_class(characters: str) -> str:
    """The inside of a character class of `characters`, runs as ranges: "\\u0009-\\u000d"."""
    points = sorted(map(ord, characters))
    runs: list[list[int]] = []
    for point in points:
        if runs and point == runs[-1][1] + 1:
            runs[-1][1] = point
        else:
            runs.append([point, point])
    return "".join(
        f"\\u{low:04x}" if low == high else f"\\u{low:04x}-\\u{high:04x}" for low, high in runs
    )


SPACE = f"[{_escaped_class(WHITESPACE)}]"
"""One blank character, as a pattern."""
# Not whitespace alone: a JSON Schema pattern matches anywhere in the string.
NOT_BLANK = f"[^{_escaped_class(WHITESPACE)}]"
# Any character at all: ECMA-262's `.` stops at U+000D, U+2028 and U+2029 as well as at U+000A,
# Python's only at U+000A, and `[^]` is ECMA's alone.
ANY = r"(?:.|[\u000a\u000d\u2028\u2029])"


# RFC 3339's date-time, what a schema's `format: date-time` means (Python's fromisoformat also
# takes week dates, bare times and more).
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DATE_TIME_SCHEMA = {"type": "string", "format": "date-time"}


def date_time(value: object) -> datetime | None:
    """An RFC 3339 date-time, with its offset; None for anything else."""
    if not isinstance(value, str) or _DATE_TIME.fullmatch(value) is None:
        return None
    try:
        return datetime.fromisoformat(value.upper())
    except ValueError:  # a 13th month, a 61st second
        return None


def to_milliseconds(moment: datetime) -> datetime:
    """A moment as MongoDB keeps it (to the millisecond): what a write answers, a read agrees."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def iso_utc(moment: datetime) -> str:
    """A UTC moment as the API writes it: ISO 8601 to the millisecond, with `Z`."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def date(value: object) -> date_ | None:
    """An RFC 3339 full-date; None for anything else."""
    if not isinstance(value, str) or _DATE.fullmatch(value) is None:
        return None
    try:
        return date_.fromisoformat(value)
    except ValueError:
        return None


def is_object_id(value: object) -> bool:
    return isinstance(value, str) and re.fullmatch(OBJECT_ID_PATTERN, value) is not None


def _check_object_id(value: str) -> str:
    if not is_object_id(value):
        raise ValueError("must be a valid id")
    return value.lower()


# The length is stated as well as the pattern because Python's re (which jsonschema uses) lets
# `$` match before a final newline, where ECMA-262 does not: 24 hex digits and a newline are too
# long for either.
_OBJECT_ID_SCHEMA = {
    "type": "string",
    "minLength": 24,
    "maxLength": 24,
    "pattern": OBJECT_ID_PATTERN,
    "example": "0" * 24,
}

ObjectIdStr = Annotated[str, AfterValidator(_check_object_id), WithJsonSchema(_OBJECT_ID_SCHEMA)]
"""A 24-hex id in a request body."""

IdInPath = Annotated[str, Path(description="A 24-hex id"), WithJsonSchema(_OBJECT_ID_SCHEMA)]
"""A 24-hex id in a route's path, checked by `tixcommon.db.parse_object_id` (the contract's
`id must be a valid id`)."""


class Rules(GroupedMetadata):
    """A validator and the JSON Schema of what it accepts, as one item of `Annotated`."""

    def __init__(self, validator: Any, schema: dict[str, Any]) -> None:
        self.validator, self.schema = validator, schema

    def __iter__(self) -> Iterator[Any]:
        yield self.validator
        yield WithJsonSchema(self.schema)


def text(label: str, max_length: int, *, blank: bool = False, when_blank: str = "") -> Any:
    """A string of at most `max_length` characters and, unless `blank`, not `WHITESPACE` alone
    (refused with `when_blank`, else "<label> is required"), stored without its surrounding
    `WHITESPACE`: `Annotated[str, text("Title", 200)]`."""
    schema: dict[str, Any] = {"type": "string", "maxLength": max_length}
    if not blank:
        schema |= {"minLength": 1, "pattern": NOT_BLANK}

    def check(value: str) -> str:
        if not blank and not value.strip(WHITESPACE):
            raise ValueError(when_blank or f"{label} is required")
        if len(value) > max_length:
            raise ValueError(f"{label} must be at most {max_length} characters")
        return value if blank else value.strip(WHITESPACE)

    return Rules(AfterValidator(check), schema)


def range_pattern(low: int, high: int) -> str:
    """A regular expression of the decimal numbers from `low` (0 or 1) to `high`, without
    leading zeros: range_pattern(1, 10) == "[1-9]|10"."""
    assert low in (0, 1)
    assert high >= 1
    digits = str(high)
    if len(digits) == 1:
        return f"[{low}-{high}]"
    # Every shorter number, then those of `high`'s length, digit by digit up to it.
    parts = [f"[{low}-9]"] + [f"[1-9][0-9]{{{n - 1}}}" for n in range(2, len(digits))]
    for at, digit in enumerate(digits):
        first = 1 if at == 0 else 0
        if int(digit) > first:
            rest = len(digits) - at - 1
            parts.append(f"{digits[:at]}[{first}-{int(digit) - 1}][0-9]{{{rest}}}")
    return "|".join([*parts, digits])


def whole_number(message: str, low: int, high: int) -> Any:
    """A whole number from `low` to `high`, as a JSON number or as a string of ASCII digits (a
    form sends one), refused with `message` otherwise: `Annotated[int, whole_number(...)]`."""
    digits = f"^{SPACE}*(?:{range_pattern(low, high)}){SPACE}*$"

    def parse(value: object) -> int:
        if isinstance(value, str) and re.fullmatch(digits, value):
            return int(value.strip(WHITESPACE))
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(message)
        return value

    schema = {
        "anyOf": [
            {"type": "integer", "minimum": low, "maximum": high},
            {"type": "string", "pattern": digits},
        ]
    }
    return Rules(BeforeValidator(parse), schema)


def seat_count(maximum: int) -> Any:
    """1 to `maximum` seats: `Annotated[int, seat_count(n)]`."""
    return whole_number(f"Quantity must be a whole number of seats from 1 to {maximum}", 1, maximum)
