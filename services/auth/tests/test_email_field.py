"""The email field's documented pattern means in ECMA-262 (what a JSON Schema pattern is, and what
a JavaScript client checks) what it means to Python's re, and what the field enforces."""

from __future__ import annotations

import re

import pytest
import regress
from pydantic import TypeAdapter, ValidationError

from auth.schemas import EMAIL_PATTERN, Email
from tixcommon.fields import WHITESPACE

PATTERN = EMAIL_PATTERN
# Blank to ECMA-262 (WHITESPACE), blank to Python only, line terminators to one engine's `.`.
AROUND = [*WHITESPACE, "\x1c", "\x1f", "\x85", "\u180e", "\u200b"]
ADDRESSES = [
    *(f"alice@example.{end}{after}" for end in ("com", "test", "LOCAL") for after in AROUND),
    *(f"{before}alice@example.com{before}" for before in AROUND),
    *(f"al{inside}ice@example.test" for inside in AROUND),
]


def accepts(value: str) -> bool:
    try:
        TypeAdapter(Email).validate_python(value)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("flags", ["u", None])
def test_the_pattern_means_the_same_in_ecma_262_and_in_python(flags: str | None) -> None:
    ecma = regress.Regex(PATTERN, flags)
    differ = [a for a in ADDRESSES if (ecma.find(a) is None) != (re.search(PATTERN, a) is None)]
    assert not differ


def test_an_address_the_pattern_refuses_is_refused() -> None:
    refused = [a for a in ADDRESSES if re.search(PATTERN, a) is None]
    assert refused  # the special-use domains, however padded
    assert not [address for address in refused if accepts(address)]


def test_an_address_is_stored_without_the_blanks_around_it() -> None:
    padded = "\ufeff\u3000Alice@Example.com\u2028 "
    assert TypeAdapter(Email).validate_python(padded) == "alice@example.com"
    assert not accepts("\x1calice@example.com")  # not blank in ECMA-262, so not here either
