"""Pass codes: signed by the current key, verified offline by anyone holding the JWK set, and
every code that is not exactly one we signed refused with the one error."""

from __future__ import annotations

import base64
import json
import string

import pytest
import segno
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from orders.pass_codes import (
    InvalidPassCode,
    PassClaims,
    PassKeys,
    generate_signing_key,
    public_key_of,
)

BASE64URL = string.ascii_letters + string.digits + "-_"
CLAIMS = PassClaims(
    pass_id="65f1c0ffee0000000000beef", ticket_id="65f1c0ffee00000000001234", seat=2, of=4
)

object_ids = st.binary(min_size=12, max_size=12).map(bytes.hex)
claims = st.integers(min_value=1, max_value=10).flatmap(
    lambda of: st.builds(
        PassClaims,
        pass_id=object_ids,
        ticket_id=object_ids,
        seat=st.integers(min_value=1, max_value=of),
        of=st.just(of),
    )
)


@pytest.fixture(scope="module")
def signing_key() -> str:
    return generate_signing_key()


@pytest.fixture(scope="module")
def keys(signing_key: str) -> PassKeys:
    return PassKeys.from_settings(signing_key)


@pytest.fixture(scope="module")
def code(keys: PassKeys) -> str:
    return keys.sign(CLAIMS)


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_with(signing_key: str, message: str) -> str:
    """A signature by `signing_key` over anything: what a forger holding a key would make."""
    return b64encode(
        Ed25519PrivateKey.from_private_bytes(b64decode(signing_key)).sign(message.encode())
    )


def refused(keys: PassKeys, code: str) -> bool:
    try:
        keys.verify(code)
    except InvalidPassCode:
        return True
    return False


@given(claims=claims)
def test_a_signed_code_verifies_to_its_claims(keys: PassKeys, claims: PassClaims) -> None:
    assert keys.verify(keys.sign(claims)) == claims


@given(claims=claims)
def test_a_code_fits_a_version_8_qr_code_at_level_m(keys: PassKeys, claims: PassClaims) -> None:
    code = keys.sign(claims)
    assert len(code) == 132
    assert segno.make_qr(code, error="m", boost_error=False).designator == "8-M"


def test_the_key_id_is_the_rfc_7638_thumbprint_of_the_key() -> None:
    # RFC 8037, appendix A: its Ed25519 key and that key's RFC 7638 thumbprint.
    keys = PassKeys.from_settings("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
    assert keys.kid == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"[:8]
    assert keys.jwks() == {
        "keys": [
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                "kid": "kPrK_qmx",
                "use": "sig",
                "alg": "EdDSA",
            }
        ]
    }


def test_a_scanner_verifies_a_code_with_only_the_published_jwk_set(keys: PassKeys) -> None:
    code = keys.sign(CLAIMS)
    published = json.dumps(keys.jwks())

    # What an offline scanner does, knowing the format and the JSON it downloaded, nothing else.
    kid, payload_part, signature_part = code.split(".")
    jwk = next(key for key in json.loads(published)["keys"] if key["kid"] == kid)
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("OKP", "Ed25519", "EdDSA")
    public_key = Ed25519PublicKey.from_public_bytes(b64decode(jwk["x"]))
    public_key.verify(b64decode(signature_part), f"{kid}.{payload_part}".encode())
    payload = b64decode(payload_part)

    assert payload[0] == 1
    assert payload[1:13].hex() == CLAIMS.pass_id
    assert payload[13:25].hex() == CLAIMS.ticket_id
    assert (payload[25], payload[26]) == (2, 4)
    with pytest.raises(InvalidSignature):
        public_key.verify(b64decode(signature_part), f"{kid}.{payload_part[:-1]}A".encode())


def test_every_change_of_one_character_is_refused(keys: PassKeys, code: str) -> None:
    accepted = [
        changed
        for position, original in enumerate(code)
        for replacement in BASE64URL + "."
        if replacement != original
        and not refused(keys, changed := code[:position] + replacement + code[position + 1 :])
    ]
    assert accepted == []


def test_every_change_of_one_bit_of_the_payload_or_signature_is_refused(
    keys: PassKeys, code: str
) -> None:
    kid, *parts = code.split(".")
    for index, part in enumerate(parts):
        data = b64decode(part)
        for bit in range(len(data) * 8):
            flipped = bytearray(data)
            flipped[bit // 8] ^= 1 << (bit % 8)
            changed = list(parts)
            changed[index] = b64encode(bytes(flipped))
            assert refused(keys, ".".join([kid, *changed])), (index, bit)


def test_truncated_and_shortened_codes_are_refused(keys: PassKeys, code: str) -> None:
    for length in range(len(code)):
        assert refused(keys, code[:length])
        assert refused(keys, code[len(code) - length :])
    for position in range(len(code)):
        assert refused(keys, code[:position] + code[position + 1 :])


def test_a_code_signed_with_another_key_is_refused(keys: PassKeys, code: str) -> None:
    other_key = generate_signing_key()
    other = PassKeys.from_settings(other_key)
    theirs = other.sign(CLAIMS)
    our_kid, payload, _ = code.split(".")
    their_kid, _, their_signature = theirs.split(".")

    assert refused(keys, theirs)  # their kid: a key we do not know
    assert refused(keys, f"{our_kid}.{payload}.{their_signature}")
    # Our kid on their code, signed again by them over our kid: still not our signature.
    forged = f"{our_kid}.{payload}"
    assert refused(keys, f"{forged}.{sign_with(other_key, forged)}")
    assert refused(keys, f"{their_kid}.{payload}.{code.split('.')[2]}")


def test_a_code_of_another_version_is_refused(signing_key: str, keys: PassKeys) -> None:
    # Signed by our own key, so only the version byte can refuse it.
    kid, payload_part, _ = keys.sign(CLAIMS).split(".")
    payload = bytearray(b64decode(payload_part))
    payload[0] = 2
    signed = f"{kid}.{b64encode(bytes(payload))}"
    assert refused(keys, f"{signed}.{sign_with(signing_key, signed)}")


def test_codes_of_a_retired_key_verify_after_a_rotation(signing_key: str, code: str) -> None:
    old = PassKeys.from_settings(signing_key)
    rotated = PassKeys.from_settings(generate_signing_key(), [public_key_of(signing_key)])

    assert rotated.kid != old.kid
    assert rotated.verify(code) == CLAIMS
    assert rotated.verify(rotated.sign(CLAIMS)) == CLAIMS
    assert [key["kid"] for key in rotated.jwks()["keys"]] == [rotated.kid, old.kid]
    assert refused(PassKeys.from_settings(generate_signing_key()), code)


def test_the_signing_key_is_in_neither_the_jwk_set_nor_the_repr(signing_key: str) -> None:
    keys = PassKeys.from_settings(signing_key, [public_key_of(generate_signing_key())])
    published = json.dumps(keys.jwks())
    assert signing_key not in published
    assert signing_key not in repr(keys)
    assert all(set(key) == {"kty", "crv", "x", "kid", "use", "alg"} for key in keys.jwks()["keys"])


def test_a_signing_key_from_a_secret_file_may_end_with_a_newline(signing_key: str) -> None:
    assert PassKeys.from_settings(signing_key + "\n").kid == PassKeys.from_settings(signing_key).kid


@pytest.mark.parametrize("bad", ["", "not a key", "A" * 42, "A" * 44, "é" * 43, "AAAA." * 9])
def test_a_bad_key_in_the_settings_is_refused_without_quoting_it(
    signing_key: str, bad: str
) -> None:
    with pytest.raises(ValueError, match="base64url") as as_signing_key:
        PassKeys.from_settings(bad)
    with pytest.raises(ValueError, match="base64url") as as_retired_key:
        PassKeys.from_settings(signing_key, [bad])
    for error in (as_signing_key, as_retired_key):
        assert not bad or bad not in str(error.value)


@pytest.mark.parametrize(
    "garbage",
    ["", ".", "..", "." * 132, "a.b.c", "x" * 10_000_000, "é" * 132, "\x00" * 132, "🎟" * 132],
    ids=["empty", "dot", "dots", "dots only", "three parts", "huge", "accents", "nul", "emoji"],
)
def test_garbage_is_refused_with_the_one_error(keys: PassKeys, garbage: str) -> None:
    assert refused(keys, garbage)


def test_a_well_formed_code_with_bad_characters_is_refused(keys: PassKeys, code: str) -> None:
    kid, payload, signature = code.split(".")
    for bad in (
        f"{kid}.{payload[:-1]}=.{signature}",
        f"{kid}.{payload[:-1]}é.{signature}",
        f"{kid}.{payload}.{signature[:-1]}\n",
        f" {code[1:]}",
        f"{kid}.{payload[:-1]}+.{signature}",
    ):
        assert refused(keys, bad)


@given(text=st.text(max_size=300))
def test_any_text_is_refused_with_the_one_error(keys: PassKeys, text: str) -> None:
    assert refused(keys, text)


@given(text=st.text(alphabet=BASE64URL, min_size=130, max_size=130))
def test_any_code_shaped_text_is_refused(keys: PassKeys, code: str, text: str) -> None:
    # The right length, two dots, the right alphabet; our kid, so the signature is checked.
    assert refused(keys, f"{keys.kid}.{text[8:44]}.{text[44:]}")
    assert refused(keys, f"{code[:9]}{text[8:44]}.{text[44:]}")


def test_claims_out_of_range_cannot_be_signed() -> None:
    for bad in (
        {"pass_id": "0" * 23},
        {"ticket_id": "G" * 24},
        {"ticket_id": "A" * 24},
        {"seat": 0},
        {"seat": 5},
        {"of": 11, "seat": 11},
    ):
        fields = {"pass_id": "0" * 24, "ticket_id": "1" * 24, "seat": 2, "of": 4} | bad
        with pytest.raises(ValueError, match="must be"):
            PassClaims(**fields)  # type: ignore[arg-type]
