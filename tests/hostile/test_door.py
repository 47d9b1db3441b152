"""Attacks on the door, through the gateway as a script would send them: codes forged, cut short,
altered or signed with keys that are not ours, scans by people who are not the seller, replayed
nonces and a flood of garbage. Each is refused with the contract's exact answer and lets nobody
in: the seller's count at the door (`GET /api/checkins/{ticketId}`) does not move.

The attacker knows what docs/passes.md publishes: a code is `<kid>.<payload>.<signature>`, the
payload a version byte, the pass id, the ticket id, the seat and the order's seats, signed with
Ed25519 over `<kid>.<payload>`; the keys are at `/api/orders/passes/keys`. The codes here are
made from that alone, with `cryptography`, not with orders' own code.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import secrets
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tixtest.stack import RunningStack, eventually

CHECKINS = "/api/checkins"
INVALID = {"errors": [{"message": "Invalid ticket code", "field": "code"}]}
NOT_YOURS = {"errors": [{"message": "Not your event"}]}
NOT_HERE = {"errors": [{"message": "Not for this event", "field": "code"}]}
FLOOD = 500


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def kid_of(key: Ed25519PublicKey) -> str:
    """As docs/passes.md names a key: the first 8 characters of its RFC 7638 thumbprint."""
    x = b64(key.public_bytes(Encoding.Raw, PublicFormat.Raw))
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    return b64(hashlib.sha256(canonical.encode()).digest())[:8]


def payload(pass_id: str, ticket_id: str, seat: int, of: int) -> bytes:
    return bytes([1]) + bytes.fromhex(pass_id) + bytes.fromhex(ticket_id) + bytes([seat, of])


def signed(key: Ed25519PrivateKey, kid: str, claims: bytes) -> str:
    head = f"{kid}.{b64(claims)}"
    return f"{head}.{b64(key.sign(head.encode('ascii')))}"


@dataclass
class Sale:
    """A seller's listing, and a buyer's complete order of some of its seats."""

    http: httpx.Client
    seller: dict[str, str]
    buyer: dict[str, str]
    ticket_id: str
    order: dict[str, Any]

    @property
    def passes(self) -> list[dict[str, Any]]:
        return list(self.order["passes"])

    def scan(self, code: Any, who: dict[str, str] | None = None, **extra: Any) -> httpx.Response:
        body = {"code": code, **extra}
        return self.http.post(CHECKINS, json=body, headers=self.seller if who is None else who)

    def door(self) -> dict[str, Any]:
        counts = self.http.get(f"{CHECKINS}/{self.ticket_id}", headers=self.seller)
        assert counts.status_code == 200, counts.text
        return {"sold": counts.json()["sold"], "checkedIn": counts.json()["checkedIn"]}

    def statuses(self) -> list[str]:
        order = self.http.get(f"/api/orders/{self.order['id']}", headers=self.buyer).json()
        return [issued["status"] for issued in order["passes"]]


def answer(response: httpx.Response) -> tuple[int, Any]:
    return response.status_code, response.json()


@pytest.fixture
def http(stack: RunningStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway, timeout=15) as client:
        yield client


def sell(stack: RunningStack, http: httpx.Client, seats: int, seller: dict[str, str]) -> Sale:
    """A listing of `seller`'s with a new buyer's order of `seats` seats, paid by card."""
    listed = http.post(
        "/api/tickets",
        json={"title": f"Door {uuid.uuid4().hex[:6]}", "price": 25, "quantity": seats + 1},
        headers=seller,
    )
    assert listed.status_code == 201, listed.text
    ticket_id = listed.json()["id"]
    buyer = stack.sign_up()

    def place() -> dict[str, Any] | None:  # the listing reaches orders through its event
        placed = http.post(
            "/api/orders", json={"ticketId": ticket_id, "quantity": seats}, headers=buyer
        )
        return placed.json() if placed.status_code == 201 else None

    order = eventually(place, 20, "order placed")

    def pay() -> httpx.Response | None:  # payments hears of the order in a moment
        body = {"orderId": order["id"], "token": "pm_card_visa"}
        paid = http.post("/api/payments", json=body, headers=buyer)
        return paid if paid.status_code != 404 else None

    assert eventually(pay, 20, "payment accepted").status_code == 201

    def complete() -> dict[str, Any] | None:
        found: dict[str, Any] = http.get(f"/api/orders/{order['id']}", headers=buyer).json()
        return found if found["status"] == "complete" else None

    return Sale(http, seller, buyer, ticket_id, eventually(complete, 20, "order complete"))


@pytest.fixture
def sale(stack: RunningStack, http: httpx.Client) -> Sale:
    return sell(stack, http, 3, stack.sign_up())


@pytest.fixture
def keys(http: httpx.Client) -> dict[str, Ed25519PublicKey]:
    """The published JWK set, as a scanner reads it: each key by its kid."""
    published = http.get("/api/orders/passes/keys").json()["keys"]
    return {
        key["kid"]: Ed25519PublicKey.from_public_bytes(unb64(key["x"]))
        for key in published
        if key["kty"] == "OKP" and key["crv"] == "Ed25519"
    }


def test_the_published_format_is_what_the_passes_hold(
    sale: Sale, keys: dict[str, Ed25519PublicKey]
) -> None:
    """The attacker's model of a code is right (so the forgeries below are refused for what
    they forge, not for being shaped wrong): a genuine code checks offline with the keys."""
    for issued in sale.passes:
        kid, claims, signature = issued["code"].split(".")
        assert unb64(claims) == payload(issued["id"], sale.ticket_id, issued["seat"], 3)
        keys[kid].verify(unb64(signature), f"{kid}.{claims}".encode("ascii"))  # raises if not
        assert kid_of(keys[kid]) == kid


def test_random_bytes_in_the_shape_of_a_code_are_invalid(
    sale: Sale, keys: dict[str, Ed25519PublicKey]
) -> None:
    real_kid = next(iter(keys))
    forged = [
        f"{kid}.{b64(secrets.token_bytes(27))}.{b64(secrets.token_bytes(64))}"
        for kid in [real_kid] * 10 + [b64(secrets.token_bytes(6)) for _ in range(10)]
    ]
    # The payload of a real pass, a random signature: the signature is what is checked.
    issued = sale.passes[0]
    claims = b64(payload(issued["id"], sale.ticket_id, 1, 3))
    forged += [f"{real_kid}.{claims}.{b64(secrets.token_bytes(64))}" for _ in range(10)]

    for code in forged:
        assert answer(sale.scan(code)) == (400, INVALID), code
    assert sale.door() == {"sold": 3, "checkedIn": 0}


def test_a_code_cut_short_is_invalid(sale: Sale) -> None:
    code = sale.passes[0]["code"]
    kid, claims, signature = code.split(".")

    for cut in [
        code[:-1],
        code[:-2],
        code[:100],
        code[: len(code) // 2],
        f"{kid}.{claims}",
        f"{kid}.{claims}.",
        f"{claims}.{signature}",
        kid,
        code[1:],
    ]:
        assert answer(sale.scan(cut)) == (400, INVALID), cut
    assert sale.door() == {"sold": 3, "checkedIn": 0}


def test_an_altered_payload_under_the_original_signature_is_invalid(sale: Sale) -> None:
    first, second = sale.passes[0], sale.passes[1]
    kid, claims, signature = first["code"].split(".")
    original = unb64(claims)
    altered = [
        payload(second["id"], sale.ticket_id, 1, 3),  # another pass of the order
        payload(first["id"], sale.ticket_id, 2, 3),  # another seat
        payload(first["id"], sale.ticket_id, 1, 10),  # more seats
        payload(first["id"], "f" * 24, 1, 3),  # another listing
        bytes([2]) + original[1:],  # another version
        original[:-1] + bytes([original[-1] ^ 1]),  # one bit
    ]

    for claims_now in altered:
        assert claims_now != original
        code = f"{kid}.{b64(claims_now)}.{signature}"
        assert answer(sale.scan(code)) == (400, INVALID), code
    assert sale.door() == {"sold": 3, "checkedIn": 0}
    assert sale.statuses() == ["valid", "valid", "valid"]


def test_a_code_re_signed_with_another_key_under_the_real_kid_is_invalid(
    sale: Sale, keys: dict[str, Ed25519PublicKey]
) -> None:
    mallory = Ed25519PrivateKey.generate()
    codes = [
        signed(mallory, kid, payload(issued["id"], sale.ticket_id, issued["seat"], 3))
        for kid in keys
        for issued in sale.passes
    ]

    for code in codes:
        assert answer(sale.scan(code)) == (400, INVALID), code
    assert sale.door() == {"sold": 3, "checkedIn": 0}


def test_a_genuine_code_under_an_unknown_kid_is_invalid(
    sale: Sale, keys: dict[str, Ed25519PublicKey]
) -> None:
    _, claims, signature = sale.passes[0]["code"].split(".")
    unknown = [b64(secrets.token_bytes(6)) for _ in range(5)] + ["AAAAAAAA", "--------"]

    for kid in unknown:
        assert kid not in keys
        assert answer(sale.scan(f"{kid}.{claims}.{signature}")) == (400, INVALID), kid
    assert sale.door() == {"sold": 3, "checkedIn": 0}


def test_a_code_signed_by_another_deployments_key_is_invalid(
    sale: Sale, keys: dict[str, Ed25519PublicKey]
) -> None:
    """Another platform's pass, well formed and signed by its own key under that key's kid:
    naming our pass, our listing, the seat it has."""
    elsewhere = Ed25519PrivateKey.generate()
    kid = kid_of(elsewhere.public_key())
    assert kid not in keys
    issued = sale.passes[0]

    code = signed(elsewhere, kid, payload(issued["id"], sale.ticket_id, 1, 3))

    assert answer(sale.scan(code)) == (400, INVALID)
    assert sale.door() == {"sold": 3, "checkedIn": 0}


def test_neither_the_buyer_nor_another_seller_checks_a_pass_in(
    stack: RunningStack, sale: Sale
) -> None:
    code = sale.passes[0]["code"]
    rival = stack.sign_up()
    # The rival sells too: a seller, just not of this listing.
    assert sale.http.post(
        "/api/tickets", json={"title": "The rival's night", "price": 9}, headers=rival
    ).is_success

    for who in (sale.buyer, rival):
        assert answer(sale.scan(code, who)) == (403, NOT_YOURS)
        assert answer(sale.scan(code, who, ticketId=sale.ticket_id)) == (403, NOT_YOURS)
        counts = sale.http.get(f"{CHECKINS}/{sale.ticket_id}", headers=who)
        assert answer(counts) == (403, NOT_YOURS)
    assert sale.door() == {"sold": 3, "checkedIn": 0}
    assert sale.statuses() == ["valid", "valid", "valid"]


def test_the_sellers_pass_of_another_listing_is_not_let_in_at_this_door(
    stack: RunningStack, http: httpx.Client, sale: Sale
) -> None:
    other = sell(stack, http, 1, sale.seller)
    code = other.passes[0]["code"]

    refused = sale.scan(code, ticketId=sale.ticket_id)

    assert answer(refused) == (400, NOT_HERE)
    assert other.door() == {"sold": 1, "checkedIn": 0}
    assert sale.door() == {"sold": 3, "checkedIn": 0}


def test_a_replayed_nonce_gets_no_other_pass_in(sale: Sale) -> None:
    """A nonce answers again only for the scan it was sent with: sent with another code, it
    is that code's scan, judged as any other."""
    first, second = sale.passes[0], sale.passes[1]
    kid, _, signature = first["code"].split(".")
    nonce = "door-1-0001"
    let_in = sale.scan(first["code"], nonce=nonce)
    assert let_in.status_code == 200, let_in.text
    assert sale.scan(second["code"], nonce="door-1-0002").status_code == 200

    forged = f"{kid}.{b64(payload(sale.passes[2]['id'], sale.ticket_id, 3, 3))}.{signature}"
    assert answer(sale.scan(forged, nonce=nonce)) == (400, INVALID)
    used = sale.scan(second["code"], nonce=nonce)
    assert answer(used) == (409, {"errors": [{"message": "Already checked in"}]})
    assert answer(sale.scan(first["code"], nonce=nonce)) == (200, let_in.json())
    assert sale.door() == {"sold": 3, "checkedIn": 2}
    assert sale.statuses() == ["checked-in", "checked-in", "valid"]


def garbage(draw: random.Random, genuine: str) -> str:
    """Something sent as a code: random characters, random bytes spelled as a code, a genuine
    code with characters changed, inserted or removed; never blank, at most 1,000 long."""
    shape = draw.randrange(5)
    if shape == 0:
        alphabet = "ABCxyz019-_.=+/ \t\u00e9\u200b\u0000\"'{}$\\"
        return "x" + "".join(draw.choice(alphabet) for _ in range(draw.randrange(0, 999)))
    if shape == 1:
        part = [draw.randbytes(n) for n in (6, 27, 64)]
        return ".".join(b64(p) for p in part)
    if shape == 2:
        at = draw.randrange(len(genuine))
        return genuine[:at] + draw.choice("AQgw-_") + genuine[at + 1 :]
    if shape == 3:
        at = draw.randrange(len(genuine))
        return genuine[:at] + genuine[at + 1 :] + draw.choice("AQ")
    return draw.randbytes(draw.randrange(1, 600)).hex()[:1000] or "00"


async def test_a_flood_of_garbage_is_refused_lets_nobody_in_and_orders_stays_up(
    stack: RunningStack, sale: Sale
) -> None:
    draw = random.Random(32)  # reproducible garbage
    genuine = sale.passes[0]["code"]
    codes = [code for code in (garbage(draw, genuine) for _ in range(FLOOD)) if code != genuine]
    # Not strings at all: the body's validation, naming the field.
    wrong_types: list[Any] = [None, 42, 1.5, True, [], [genuine], {"$ne": None}, {"$gt": ""}]
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(
        base_url=stack.gateway, headers=sale.seller, limits=limits, timeout=60
    ) as http:

        async def scan(code: Any) -> httpx.Response:
            return await http.post(CHECKINS, json={"code": code, "nonce": "flood"})

        answers = await asyncio.gather(*(scan(code) for code in codes))
        typed = await asyncio.gather(*(scan(value) for value in wrong_types))

    assert Counter(response.status_code for response in answers) == {400: len(codes)}
    for code, response in zip(codes, answers, strict=True):
        assert response.json() == INVALID, code
    for value, response in zip(wrong_types, typed, strict=True):
        assert response.status_code == 400, value
        assert [error.get("field") for error in response.json()["errors"]] == ["code"], value
    assert sale.door() == {"sold": 3, "checkedIn": 0}
    assert stack.ready("orders")
    assert sale.scan(genuine).status_code == 200  # the door still works
    assert sale.door() == {"sold": 3, "checkedIn": 1}
