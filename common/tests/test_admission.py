"""Admissions: bound to one account, one ticket and a moment; anything else is refused."""

from __future__ import annotations

import secrets

import pytest

from tixcommon.admission import AdmissionCodec
from tixcommon.auth import SessionCodec

KEY = secrets.token_urlsafe(48)
BUYER, OTHER = "a" * 24, "b" * 24
TICKET, OTHER_TICKET = "c" * 24, "d" * 24
UNTIL = 2_000_000_000


@pytest.fixture
def codec() -> AdmissionCodec:
    return AdmissionCodec(KEY)


def test_an_admission_admits_its_holder_to_its_ticket_until_it_lapses(
    codec: AdmissionCodec,
) -> None:
    token = codec.issue(BUYER, TICKET, UNTIL)
    assert codec.verify(token, user_id=BUYER, ticket_id=TICKET, now=UNTIL - 1)
    assert not codec.verify(token, user_id=BUYER, ticket_id=TICKET, now=UNTIL)


def test_an_admission_admits_nobody_else_and_to_nothing_else(codec: AdmissionCodec) -> None:
    token = codec.issue(BUYER, TICKET, UNTIL)
    assert not codec.verify(token, user_id=OTHER, ticket_id=TICKET, now=0)
    assert not codec.verify(token, user_id=BUYER, ticket_id=OTHER_TICKET, now=0)


def test_an_admission_signed_with_another_key_is_refused(codec: AdmissionCodec) -> None:
    forged = AdmissionCodec(secrets.token_urlsafe(48)).issue(BUYER, TICKET, UNTIL)
    assert not codec.verify(forged, user_id=BUYER, ticket_id=TICKET, now=0)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-2],
        lambda token: token + "A",
        lambda token: token.replace(".", ""),
        lambda token: token + ".x",
        lambda token: "x" * 300,
        lambda token: "",
        lambda token: "!!!." + token.split(".")[1],
    ],
)
def test_a_mangled_admission_is_refused(codec: AdmissionCodec, mangle: object) -> None:
    token = mangle(codec.issue(BUYER, TICKET, UNTIL))  # type: ignore[operator]
    assert not codec.verify(token, user_id=BUYER, ticket_id=TICKET, now=0)


def test_a_longer_lease_cannot_be_grafted_onto_a_signature(codec: AdmissionCodec) -> None:
    claims, mac = codec.issue(BUYER, TICKET, UNTIL).split(".")
    other_claims = codec.issue(BUYER, TICKET, UNTIL * 2).split(".")[0]
    assert not codec.verify(f"{other_claims}.{mac}", user_id=BUYER, ticket_id=TICKET, now=0)
    assert claims != other_claims


def test_a_session_token_is_not_an_admission(codec: AdmissionCodec) -> None:
    session = SessionCodec(KEY, 3600).issue(BUYER, "buyer@example.com")
    assert not codec.verify(session, user_id=BUYER, ticket_id=TICKET, now=0)
