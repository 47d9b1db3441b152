"""ALTCHA's proof of work (its v1 format, what its widget solves): a challenge bound to the
account that asked for it, solved once.

A challenge's salt carries the account and an expiry, and its signature is an HMAC under a key
derived from the session key, so the room stores nothing when it hands one out; a solution is
checked with two hashes, and its single use is recorded by the join itself (`join.lua`).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from altcha.v1 import (
    AlgoType,
    ChallengeOptions,
    PayloadType,
    create_challenge,
    extract_params,
    verify_solution,
)

ALGORITHM: AlgoType = "SHA-256"
_PURPOSE = b"tixvibe waiting-room proof of work v1"


class ProofOfWork:
    def __init__(self, session_key: str, *, difficulty: int, lifetime_seconds: int) -> None:
        self._key = hmac.digest(session_key.encode(), _PURPOSE, "sha256").hex()
        self.difficulty = difficulty
        self.lifetime = timedelta(seconds=lifetime_seconds)

    def challenge(self, account: str) -> dict[str, Any]:
        """A challenge for this account, in the format ALTCHA's widget fetches (`maxnumber`, as
        its JavaScript library spells it; the Python one writes `maxNumber`)."""
        challenge = create_challenge(
            ChallengeOptions(
                algorithm=ALGORITHM,
                max_number=self.difficulty,
                hmac_key=self._key,
                expires=datetime.now(UTC) + self.lifetime,
                params={"account": account},
            )
        )
        return {
            "algorithm": challenge.algorithm,
            "challenge": challenge.challenge,
            "maxnumber": challenge.max_number,
            "salt": challenge.salt,
            "signature": challenge.signature,
        }

    def verify(self, solution: str, account: str) -> str | None:
        """The challenge a valid, unexpired solution of this account's answers (what must not be
        used again), or None."""
        if len(solution) > 2048:  # ours are about 300 characters
            return None
        try:
            payload = json.loads(base64.b64decode(solution, validate=True))
        except (binascii.Error, ValueError):
            return None
        if not isinstance(payload, dict) or payload.get("algorithm") != ALGORITHM:
            return None
        try:
            fields = cast(PayloadType, payload)
            valid, _ = verify_solution(fields, self._key, check_expires=True)
            params = extract_params(fields)
        except (ValueError, TypeError, KeyError, AttributeError):
            return None  # fields of the wrong types
        challenge = payload.get("challenge")
        if not valid or params.get("account") != [account] or not isinstance(challenge, str):
            return None
        return challenge
