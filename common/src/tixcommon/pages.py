"""Keyset pages: an opaque, tamper-evident cursor naming where the next page starts."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

import orjson

from tixcommon.errors import BadRequest

_TAG_BYTES = 16
INVALID_CURSOR = "cursor is invalid: follow the Link of the previous page"
CURSOR_PATTERN = "^[A-Za-z0-9_-]+$"  # unpadded base64url


@dataclass(frozen=True)
class PagePosition:
    """Where a page starts: after the key `after`; `hint` is what the previous page learned of
    the keys' density, so that the next one reads no more than it needs (never its results)."""

    after: str
    hint: int | None = None


class CursorCodec:
    """Signs a page position (for one `sort`) so that a cursor can only be one we made for that
    sort: a garbage or edited cursor is refused, never read."""

    def __init__(self, secret: str, purpose: str) -> None:
        # A key of its own, derived from the service's secret: a cursor is never a token.
        self._key = hmac.digest(secret.encode(), purpose.encode(), hashlib.sha256)

    def encode(self, sort: str, position: PagePosition) -> str:
        # The hint as text: it may be wider than JSON's integers.
        hint = None if position.hint is None else str(position.hint)
        payload = orjson.dumps({"s": sort, "a": position.after, "h": hint})
        tag = hmac.digest(self._key, payload, hashlib.sha256)[:_TAG_BYTES]
        return base64.urlsafe_b64encode(tag + payload).decode().rstrip("=")

    def decode(self, cursor: str, sort: str) -> PagePosition:
        """Where the page starts; 400 naming `cursor` unless it is ours, for `sort`."""
        invalid = BadRequest(INVALID_CURSOR, field="cursor")
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except ValueError:
            raise invalid from None
        tag, payload = raw[:_TAG_BYTES], raw[_TAG_BYTES:]
        expected = hmac.digest(self._key, payload, hashlib.sha256)[:_TAG_BYTES]
        if not hmac.compare_digest(tag, expected):
            raise invalid
        position = orjson.loads(payload)
        after, hint = position.get("a"), position.get("h")
        if position.get("s") != sort or not isinstance(after, str):
            raise invalid  # made for another sort: its key means nothing here
        return PagePosition(after, int(hint) if isinstance(hint, str) and hint.isdigit() else None)
