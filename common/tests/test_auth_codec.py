"""The session codec: what it accepts and refuses. Tokens shaped as `issue` writes them are
verified without PyJWT (the HMAC checked directly, the claims read with orjson); every other
token is PyJWT's to judge. Each refusal is checked against both, and a property test holds the
codec to PyJWT's verdict for any claims and headers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tixcommon.auth import (
    ISSUED_AHEAD_SECONDS,
    ISSUED_HEADER,
    VERIFIED_CACHE_SIZE,
    SessionCodec,
    UserClaims,
)

KEY = "k" * 48
USER = "a" * 24
NOW = int(time.time())


def pyjwt_verdict(token: str, key: str = KEY) -> UserClaims | None:
    """What PyJWT and the claims model say of a token, now: the reference. Issued up to
    ISSUED_AHEAD_SECONDS ahead is valid (PyJWT's leeway), expired is expired (no leeway)."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            options={"require": ["exp", "iat"]},
            leeway=ISSUED_AHEAD_SECONDS,
        )
        verdict = UserClaims.model_validate(claims)
    except (jwt.PyJWTError, ValidationError):
        return None
    return verdict if verdict.exp > time.time() else None


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(header: str, payload: str, key: str = KEY) -> str:
    """A token of exactly these segments (already encoded), signed with `key`."""
    signing_input = f"{header}.{payload}".encode()
    mac = hmac.digest(key.encode(), signing_input, hashlib.sha256)
    return f"{header}.{payload}.{b64url(mac)}"


def with_claims(claims: Any, key: str = KEY) -> str:
    """Our header, these claims as JSON (any JSON at all), signed with `key`."""
    return signed(ISSUED_HEADER.decode(), b64url(orjson.dumps(claims)), key)


def claims(**overrides: Any) -> dict[str, Any]:
    return {"id": USER, "email": "x@example.com", "iat": NOW, "exp": NOW + 60, **overrides}


def assert_refused(token: str) -> None:
    """Refused by the codec and by PyJWT alike."""
    assert pyjwt_verdict(token) is None
    assert SessionCodec(KEY, 60).decode(token) is None


def test_issued_token_decodes_to_its_claims() -> None:
    codec = SessionCodec(KEY, lifetime_seconds=60)

    claims = codec.decode(codec.issue(USER, "x@example.com", now=1_000))

    assert claims is None  # issued long ago, so expired
    now = int(time.time())
    claims = codec.decode(codec.issue(USER, "x@example.com", now=now))
    assert claims is not None
    assert (claims.id, claims.email, claims.exp - claims.iat) == (USER, "x@example.com", 60)


def test_issued_tokens_are_verified_without_pyjwt() -> None:
    """What `issue` writes is what the direct check reads: if PyJWT ever writes another header
    or spelling, this fails rather than every session quietly costing PyJWT's decode again."""
    codec = SessionCodec(KEY, 60)
    token = codec.issue(USER, "Zoë.o'Brien+tag@example.com")

    assert token.split(".")[0] == ISSUED_HEADER.decode()
    assert codec.verify_issued(token) == pyjwt_verdict(token) is not None


def test_token_signed_with_another_key_is_rejected() -> None:
    token = SessionCodec("o" * 48, 60).issue(USER, "x@example.com")

    assert_refused(token)


def test_token_with_missing_claims_is_rejected() -> None:
    token = jwt.encode({"id": USER, "exp": int(time.time()) + 60, "iat": 0}, KEY)

    assert_refused(token)


@pytest.mark.parametrize("missing", ["exp", "iat", "id", "email"])
def test_token_without_a_claim_is_refused(missing: str) -> None:
    token = with_claims({k: v for k, v in claims().items() if k != missing})

    assert_refused(token)


@pytest.mark.parametrize("claim", ["exp", "iat"])
def test_token_with_a_null_time_is_refused(claim: str) -> None:
    assert_refused(with_claims(claims(**{claim: None})))


def test_expired_token_is_refused() -> None:
    assert_refused(with_claims(claims(iat=NOW - 120, exp=NOW - 60)))


def test_token_expiring_now_is_refused() -> None:
    token = with_claims(claims(exp=int(time.time())))

    assert_refused(token)


def test_token_issued_in_the_future_is_refused() -> None:
    assert_refused(with_claims(claims(iat=NOW + 3600, exp=NOW + 7200)))


def test_expiry_is_checked_on_every_use() -> None:
    """A token verified once is kept, but its expiry is read again each time."""
    codec = SessionCodec(KEY, 60)
    token = with_claims(claims(exp=int(time.time()) + 2))

    assert codec.decode(token) is not None
    time.sleep(2.1)

    assert codec.decode(token) is None


def test_token_not_yet_valid_is_accepted_once_it_is() -> None:
    """Verified early (a clock a little behind auth's), a token is not refused for good."""
    codec = SessionCodec(KEY, 60)
    token = with_claims(claims(iat=int(time.time()) + ISSUED_AHEAD_SECONDS + 1, exp=NOW + 60))

    assert codec.decode(token) is None
    time.sleep(1.1)

    assert codec.decode(token) == pyjwt_verdict(token) is not None


@pytest.mark.parametrize(
    "wrong",
    [
        {"exp": "soon"},
        {"exp": float(NOW + 60) + 0.5},
        {"iat": "yesterday"},
        {"iat": [NOW]},
        {"exp": {"at": NOW}},
        {"id": 12345},
        {"id": None},
        {"email": ["x@example.com"]},
    ],
    ids=repr,
)
def test_token_with_a_claim_of_the_wrong_type_is_refused(wrong: dict[str, Any]) -> None:
    assert_refused(with_claims(claims(**wrong)))


@pytest.mark.parametrize(
    "claim",
    [
        {"exp": True},
        {"exp": float(NOW + 60)},
        {"exp": 2**70},
        {"iat": str(NOW)},
        {"exp": str(NOW + 60)},
    ],
    ids=repr,
)
def test_token_with_a_time_pyjwt_reads_as_an_integer_is_judged_by_pyjwt(
    claim: dict[str, Any],
) -> None:
    """Not our spelling, so not the direct check's to accept; PyJWT's verdict stands."""
    token = signed(ISSUED_HEADER.decode(), b64url(json.dumps(claims(**claim)).encode()))
    codec = SessionCodec(KEY, 60)

    assert codec.verify_issued(token) is None
    assert codec.decode(token) == pyjwt_verdict(token)


@pytest.mark.parametrize(
    "extra", [{"aud": "orders"}, {"nbf": NOW + 3600}, {"sub": 7}, {"jti": 7}], ids=repr
)
def test_token_with_another_claim_pyjwt_refuses_is_refused(extra: dict[str, Any]) -> None:
    assert_refused(with_claims(claims(**extra)))


def test_token_with_another_claim_pyjwt_accepts_is_accepted() -> None:
    token = with_claims(claims(role="seller"))

    assert SessionCodec(KEY, 60).decode(token) == pyjwt_verdict(token) is not None


@pytest.mark.parametrize("payload", [[1, 2], "a string", 42, None], ids=repr)
def test_token_whose_claims_are_not_an_object_is_refused(payload: Any) -> None:
    assert_refused(with_claims(payload))


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "none", "typ": "JWT"},
        {"alg": "HS512", "typ": "JWT"},
        {"alg": "RS256", "typ": "JWT"},
        {"typ": "JWT"},
        {"alg": "HS256", "typ": "JWT", "kid": 7},
        {"alg": "HS256", "typ": "JWT", "crit": ["exp"]},
        {"alg": "HS256", "typ": "JWT", "b64": False, "crit": ["b64"]},
    ],
    ids=repr,
)
def test_token_with_a_header_pyjwt_refuses_is_refused(header: dict[str, Any]) -> None:
    token = signed(b64url(orjson.dumps(header)), b64url(orjson.dumps(claims())))

    assert_refused(token)


def test_unsigned_token_is_refused() -> None:
    header = b64url(orjson.dumps({"alg": "none", "typ": "JWT"}))

    assert_refused(f"{header}.{b64url(orjson.dumps(claims()))}.")


def test_token_signed_as_hs512_with_our_key_is_refused() -> None:
    header = b64url(orjson.dumps({"alg": "HS512", "typ": "JWT"}))
    signing_input = f"{header}.{b64url(orjson.dumps(claims()))}"
    mac = hmac.digest(KEY.encode(), signing_input.encode(), hashlib.sha512)

    assert_refused(f"{signing_input}.{b64url(mac)}")


def test_token_whose_header_is_ours_spelled_otherwise_is_accepted_as_pyjwt_does() -> None:
    header = b64url(b'{ "typ": "JWT", "alg": "HS256" }')
    token = signed(header, b64url(orjson.dumps(claims())))
    codec = SessionCodec(KEY, 60)

    assert codec.verify_issued(token) is None
    assert codec.decode(token) == pyjwt_verdict(token) is not None


def test_tampered_claims_are_refused() -> None:
    header, _, signature = SessionCodec(KEY, 60).issue(USER, "x@example.com").split(".")
    forged = b64url(orjson.dumps(claims(id="b" * 24)))

    assert_refused(f"{header}.{forged}.{signature}")


def test_tampered_signature_is_refused() -> None:
    token = SessionCodec(KEY, 60).issue(USER, "x@example.com")
    last = "A" if token[-2] != "A" else "B"

    assert_refused(token[:-2] + last + token[-1])
    assert_refused(token[:-1])
    assert_refused(token + "A")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.replace(".", "..", 1),
        lambda t: t + ".",
        lambda t: t.replace(".", ""),
        lambda t: t.replace("e", "é", 1),
        lambda t: " " + t,
        lambda t: t.replace("-", "+").replace("_", "/"),
    ],
    ids=["empty segment", "four segments", "one segment", "not ascii", "space", "base64 std"],
)
def test_malformed_token_is_refused(mangle: Any) -> None:
    token = SessionCodec(KEY, 60).issue(USER, "x@example.com?" * 3 + "~~~@example.com")

    assert_refused(mangle(token))


def test_claims_in_a_non_canonical_spelling_are_refused() -> None:
    """The last character of a segment whose length is 2 or 3 past a multiple of 4 carries bits
    the decoder ignores: flip one and the segment decodes to the same claims. PyJWT refuses it."""
    payload = b64url(orjson.dumps(claims(email="xx@example.com")))
    assert len(payload) % 4 in (2, 3)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    stray = payload[:-1] + alphabet[alphabet.index(payload[-1]) ^ 1]
    assert stray != payload
    assert base64.urlsafe_b64decode(stray + "==") == orjson.dumps(claims(email="xx@example.com"))

    assert_refused(signed(ISSUED_HEADER.decode(), stray))


def test_padded_claims_are_judged_by_pyjwt() -> None:
    payload = b64url(orjson.dumps(claims(email="xx@example.com")))
    padded = signed(ISSUED_HEADER.decode(), payload + "=" * (-len(payload) % 4))
    codec = SessionCodec(KEY, 60)

    assert codec.verify_issued(padded) is None
    assert codec.decode(padded) == pyjwt_verdict(padded)


def test_padded_signature_is_accepted_as_pyjwt_does() -> None:
    token = SessionCodec(KEY, 60).issue(USER, "x@example.com") + "="

    assert SessionCodec(KEY, 60).decode(token) == pyjwt_verdict(token) is not None


def test_a_key_pyjwt_refuses_refuses_every_token() -> None:
    pem = "-----BEGIN PUBLIC KEY-----\n" + "A" * 64 + "\n-----END PUBLIC KEY-----"
    token = with_claims(claims(), key=pem)
    codec = SessionCodec(pem, 60)

    assert pyjwt_verdict(token, key=pem) is None
    assert codec.decode(token) is None


def test_kept_tokens_are_bounded_and_long_ones_never_kept() -> None:
    codec = SessionCodec(KEY, 60)
    cache = codec._verified

    assert codec.decode("x" * 5000) is None
    assert cache.cache_info().currsize == 0
    for index in range(200):
        codec.decode(f"junk-{index}")

    assert cache.cache_info().currsize == 200
    assert cache.cache_info().maxsize == VERIFIED_CACHE_SIZE > 20_000


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
times = st.one_of(
    st.integers(min_value=NOW - 3600, max_value=NOW + 3600),
    st.integers(),
    json_values,
    st.integers(min_value=NOW, max_value=NOW + 3600).map(str),
    st.integers(min_value=NOW, max_value=NOW + 3600).map(float),
)
any_claims = st.fixed_dictionaries(
    {},
    optional={
        "id": st.text(max_size=30) | json_values,
        "email": st.text(max_size=30) | json_values,
        "iat": times,
        "exp": times,
        "nbf": times,
        "aud": json_values,
        "extra": json_values,
    },
)


# Our four claims, of our types: the tokens the direct check reads.
our_claims = st.fixed_dictionaries(
    {
        "id": st.text(max_size=30),
        "email": st.text(max_size=30),
        "iat": st.integers(min_value=NOW - 3600, max_value=NOW + 3600) | st.integers(),
        "exp": st.integers(min_value=NOW - 3600, max_value=NOW + 3600) | st.integers(),
    }
)


@settings(max_examples=500, deadline=None)
@given(
    claim_set=any_claims | our_claims,
    header=st.sampled_from(
        [
            ISSUED_HEADER.decode(),
            b64url(b'{"alg":"HS256"}'),
            b64url(b'{"alg":"none","typ":"JWT"}'),
            b64url(b'{"alg":"HS384","typ":"JWT"}'),
        ]
    ),
    key=st.sampled_from([KEY, "o" * 48]),
)
def test_the_codec_agrees_with_pyjwt_on_any_claims(
    claim_set: dict[str, Any], header: str, key: str
) -> None:
    token = signed(header, b64url(json.dumps(claim_set).encode()), key)
    codec = SessionCodec(KEY, 60)

    assert codec.decode(token) == pyjwt_verdict(token)
    direct = codec.verify_issued(token)
    if direct is not None:  # the direct check accepts only what PyJWT reads the same
        assert direct == UserClaims.model_validate(claim_set)
        assert header == ISSUED_HEADER.decode()
        assert key == KEY
