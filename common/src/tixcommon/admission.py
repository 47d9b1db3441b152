"""Waiting-room admissions: what the room hands an admitted buyer and orders checks, locally.

An admission binds one account to one ticket until a moment. It is an HMAC-SHA256 over those
three, keyed by a key derived from the session key every service already holds (so no new secret
has to reach every process, yet an admission can never pass for a session nor a session for an
admission). Orders verifies it with one MAC and no call to the room, so the room's load never
reaches the shop and the shop never waits on the room.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time

ADMISSION_HEADER = "Waiting-Room-Admission"
_PURPOSE = b"tixvibe waiting-room admission v1"
# Ours are about 110 characters; anything much longer is not one, and is not hashed.
_TOKEN_MAX = 256


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(segment: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        return None


class AdmissionCodec:
    """Issues (the room) and verifies (orders) admissions."""

    def __init__(self, session_key: str) -> None:
        self._key = hmac.digest(session_key.encode(), _PURPOSE, "sha256")

    def _mac(self, claims: bytes) -> bytes:
        return hmac.digest(self._key, claims, "sha256")

    def issue(self, user_id: str, ticket_id: str, until: int) -> str:
        """An admission of `user_id` to `ticket_id`, valid until `until` (Unix seconds)."""
        claims = f"{user_id}:{ticket_id}:{until}".encode()
        return f"{_encode(claims)}.{_encode(self._mac(claims))}"

    def verify(self, token: str, *, user_id: str, ticket_id: str, now: float | None = None) -> bool:
        """Whether `token` admits this account to this ticket now."""
        if len(token) > _TOKEN_MAX or token.count(".") != 1:
            return False
        claims_part, mac_part = token.split(".")
        claims, mac = _decode(claims_part), _decode(mac_part)
        if claims is None or mac is None or not hmac.compare_digest(self._mac(claims), mac):
            return False
        try:
            holder, ticket, until = claims.decode("ascii").split(":")
            expires = int(until)
        except ValueError:
            return False
        current = time.time() if now is None else now
        return holder == user_id and ticket == ticket_id and current < expires
