"""Pass codes: what a pass's QR code holds, signed with Ed25519 and checked with no network.

A code is three dot-separated parts, base64url without padding:

    <kid>.<payload>.<signature>

- `kid`, 8 characters: the first 8 of the signing key's RFC 7638 JWK thumbprint (base64url of
  the SHA-256 of `{"crv":"Ed25519","kty":"OKP","x":...}`), so a key is named by what it is and
  no key names have to be configured; it picks the key out of the JWK set.
- `payload`, 27 bytes (36 characters): a version byte (1), the pass id (12 bytes), the ticket id
  (12 bytes), the seat and the order's quantity (a byte each).
- `signature`, 64 bytes (86 characters): Ed25519 over the ASCII of `<kid>.<payload>`, so the key
  id is signed too and a code cannot be pointed at another key.

132 characters: a version 8 QR code at error level M (49 modules a side), which a phone reads off
a screen. A scanner needs only the code and the JWK set (`PassKeys.jwks`, published with no
auth): the public keys of the current signing key and of the retired ones, so passes signed
before a rotation keep verifying for as long as their key is listed.

Every way a code can be wrong (malformed, truncated, tampered with, another version, an unknown
key, a bad signature) is one `InvalidPassCode`: a scanner has one answer for all, and an attacker
learns nothing from which check failed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

CODE_VERSION = 1
# The most seats one order takes (the contract's order quantity, 1 to 10).
MAX_SEATS = 10
KID_LENGTH = 8

_OBJECT_ID = re.compile(r"[0-9a-f]{24}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_PAYLOAD_BYTES = 1 + 12 + 12 + 1 + 1
_SIGNATURE_BYTES = 64
_KEY_BYTES = 32
# A code is exactly this long; anything else is refused before any decoding.
CODE_LENGTH = KID_LENGTH + 1 + 36 + 1 + 86


class InvalidPassCode(Exception):
    """The code is not a pass signed by one of our keys, whatever the reason."""


@dataclass(frozen=True, slots=True)
class PassClaims:
    """What a pass code says: this pass, of this ticket, is seat `seat` of an order of `of`."""

    pass_id: str
    ticket_id: str
    seat: int
    of: int

    def __post_init__(self) -> None:
        for name, value in (("pass_id", self.pass_id), ("ticket_id", self.ticket_id)):
            if _OBJECT_ID.fullmatch(value) is None:
                raise ValueError(f"{name} must be 24 lowercase hex digits")
        if not 1 <= self.of <= MAX_SEATS:
            raise ValueError(f"of must be from 1 to {MAX_SEATS}")
        if not 1 <= self.seat <= self.of:
            raise ValueError("seat must be from 1 to of")


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(segment: str, size: int) -> bytes:
    """`size` bytes from their one canonical base64url spelling, or InvalidPassCode.

    Canonical: the spare bits of the last character must be zero, so no two spellings decode to
    the same bytes and changing any character of a code changes what it says."""
    if _BASE64URL.fullmatch(segment) is None:
        raise InvalidPassCode
    try:
        data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise InvalidPassCode from None
    if len(data) != size or _encode(data) != segment:
        raise InvalidPassCode
    return data


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _jwk(key: Ed25519PublicKey) -> dict[str, str]:
    return {"kty": "OKP", "crv": "Ed25519", "x": _encode(_raw_public(key))}


def key_id(key: Ed25519PublicKey) -> str:
    """The first characters of the key's RFC 7638 thumbprint: its required members in
    lexicographic order, no whitespace, SHA-256, base64url."""
    canonical = json.dumps(_jwk(key), sort_keys=True, separators=(",", ":")).encode()
    return _encode(hashlib.sha256(canonical).digest())[:KID_LENGTH]


def generate_signing_key() -> str:
    """A new signing key: its raw 32-byte seed, base64url (43 characters, one line)."""
    return _encode(Ed25519PrivateKey.generate().private_bytes_raw())


def _key_bytes(text: str, what: str) -> bytes:
    try:
        return _decode(text.strip(), _KEY_BYTES)
    except InvalidPassCode:
        raise ValueError(f"{what} must be 32 bytes, base64url without padding") from None


def parse_signing_key(text: str) -> Ed25519PrivateKey:
    """A signing key as `generate_signing_key` writes it; ValueError naming no part of it."""
    return Ed25519PrivateKey.from_private_bytes(_key_bytes(text, "a pass signing key"))


def parse_public_key(text: str) -> Ed25519PublicKey:
    """A public key as the JWK set's `x` spells it."""
    return Ed25519PublicKey.from_public_bytes(_key_bytes(text, "a pass public key"))


def public_key_of(signing_key: str) -> str:
    """The public half of a signing key, as `x`: what to list among the retired keys when this
    key stops signing."""
    return _encode(_raw_public(parse_signing_key(signing_key).public_key()))


class PassKeys:
    """Signs pass codes with the current key; verifies codes of the current and retired keys."""

    def __init__(
        self, signing_key: Ed25519PrivateKey, retired: Iterable[Ed25519PublicKey] = ()
    ) -> None:
        self._signing_key = signing_key
        current = signing_key.public_key()
        self.kid = key_id(current)
        # The current key first, so the JWK set lists it first; a retired key listed twice (or
        # the current key listed as retired, mid-rotation) is one entry.
        self._public: dict[str, Ed25519PublicKey] = {self.kid: current}
        for key in retired:
            self._public.setdefault(key_id(key), key)

    @classmethod
    def from_settings(cls, signing_key: str, retired_public_keys: Iterable[str] = ()) -> PassKeys:
        """From the settings' strings: the seed of the signing key and the `x` of each retired
        key. ValueError for a key that is not one (the message never quotes it)."""
        return cls(
            parse_signing_key(signing_key), [parse_public_key(x) for x in retired_public_keys]
        )

    def __repr__(self) -> str:
        return f"PassKeys(kid={self.kid!r}, verifies={list(self._public)!r})"

    def sign(self, claims: PassClaims) -> str:
        payload = (
            bytes([CODE_VERSION])
            + bytes.fromhex(claims.pass_id)
            + bytes.fromhex(claims.ticket_id)
            + bytes([claims.seat, claims.of])
        )
        signed = f"{self.kid}.{_encode(payload)}"
        return f"{signed}.{_encode(self._signing_key.sign(signed.encode('ascii')))}"

    def verify(self, code: str) -> PassClaims:
        """The claims of a code signed by one of our keys; InvalidPassCode for anything else."""
        if len(code) != CODE_LENGTH or code.count(".") != 2:
            raise InvalidPassCode
        kid, payload_part, signature_part = code.split(".")
        key = self._public.get(kid)
        if key is None:
            raise InvalidPassCode
        payload = _decode(payload_part, _PAYLOAD_BYTES)
        signature = _decode(signature_part, _SIGNATURE_BYTES)
        try:
            key.verify(signature, f"{kid}.{payload_part}".encode("ascii"))
        except InvalidSignature:
            raise InvalidPassCode from None
        if payload[0] != CODE_VERSION:
            raise InvalidPassCode
        try:
            return PassClaims(
                pass_id=payload[1:13].hex(),
                ticket_id=payload[13:25].hex(),
                seat=payload[25],
                of=payload[26],
            )
        except ValueError:
            # Signed by us, so never expected; refused like any other bad code all the same.
            raise InvalidPassCode from None

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JWK set (RFC 8037) of every key whose codes verify: public halves only."""
        return {
            "keys": [
                {**_jwk(key), "kid": kid, "use": "sig", "alg": "EdDSA"}
                for kid, key in self._public.items()
            ]
        }
