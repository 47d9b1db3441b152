"""Password-reset tokens: derived from the reset's id with a key only the service holds, so
the token is made again when its mail is sent and never stored, logged or put on the bus. The
database keeps its SHA-256, which finds the reset when the link comes back and which a reader of
the database cannot turn back into a link."""

from __future__ import annotations

import base64
import hashlib
import hmac

from bson import ObjectId

_LABEL = b"tixvibe password-reset token key"
TOKEN_LENGTH = 43  # 32 bytes of HMAC, base64url without padding


class ResetTokens:
    def __init__(self, jwt_key: str) -> None:
        # Its own key, derived from the session key (which every holder of could mint sessions
        # already): one secret fewer to deploy, and a reset token is no session token.
        self._key = hmac.digest(jwt_key.encode(), _LABEL, "sha256")

    def token(self, reset_id: ObjectId) -> str:
        mac = hmac.digest(self._key, b"reset:" + reset_id.binary, "sha256")
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    @staticmethod
    def hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()
