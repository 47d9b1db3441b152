from __future__ import annotations

import time

from tixcommon.auth import SessionCodec

KEY = "k" * 48


def test_issued_token_decodes_to_its_claims() -> None:
    codec = SessionCodec(KEY, lifetime_seconds=60)

    claims = codec.decode(codec.issue("a" * 24, "x@example.com", now=1_000))

    assert claims is None  # issued long ago, so expired
    now = int(time.time())
    claims = codec.decode(codec.issue("a" * 24, "x@example.com", now=now))
    assert claims is not None
    assert (claims.id, claims.email, claims.exp - claims.iat) == ("a" * 24, "x@example.com", 60)


def test_token_signed_with_another_key_is_rejected() -> None:
    token = SessionCodec("o" * 48, 60).issue("a" * 24, "x@example.com")

    assert SessionCodec(KEY, 60).decode(token) is None


def test_token_with_missing_claims_is_rejected() -> None:
    import jwt

    token = jwt.encode({"id": "a" * 24, "exp": int(time.time()) + 60, "iat": 0}, KEY)

    assert SessionCodec(KEY, 60).decode(token) is None
