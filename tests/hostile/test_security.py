"""Attacks on the running platform, through the gateway as a browser or a script would send them:
forged sessions, other users' resources, oversized and pathological bodies, probing for internals,
and guessing passwords."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from bson import ObjectId

from tixtest.stack import RunningStack

# Every route that requires a session, with a body it would accept from its owner.
PROTECTED: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/api/tickets", {"title": "Concert", "price": 10}),
    ("GET", "/api/tickets/mine", None),
    ("POST", "/api/orders", {"ticketId": "a" * 24}),
    ("GET", "/api/orders", None),
    ("POST", "/api/payments", {"orderId": "a" * 24, "token": "pm_card_visa"}),
]
# What an error must never show a caller.
INTERNALS = ("Traceback", 'File "', ".py", "pymongo", "bson", "beanie", "nats", "Exception")


@pytest.fixture
def http(stack: RunningStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway, timeout=15) as client:
        yield client


def _unsigned(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def forged_sessions(stack: RunningStack) -> dict[str, str]:
    key = (stack.data_dir / "jwt_key").read_text().strip()
    now = int(time.time())
    claims = {"id": str(ObjectId()), "email": "mallory@example.com", "iat": now, "exp": now + 600}
    valid = jwt.encode(claims, key, algorithm="HS256")
    header, payload, signature = valid.split(".")
    other_claims = {**claims, "id": str(ObjectId())}
    swapped = base64.urlsafe_b64encode(json.dumps(other_claims).encode()).rstrip(b"=").decode()
    return {
        "alg none": _unsigned(claims),
        "alg none, no dot": _unsigned(claims).rstrip("."),
        "wrong key": jwt.encode(claims, secrets.token_urlsafe(48), algorithm="HS256"),
        "expired": jwt.encode({**claims, "iat": now - 7200, "exp": now - 3600}, key, "HS256"),
        "payload swapped": f"{header}.{swapped}.{signature}",
        "signature stripped": f"{header}.{payload}.",
        "HS512 with the key": jwt.encode(claims, key, algorithm="HS512"),
        "no expiry": jwt.encode({"id": claims["id"], "email": "m@example.com"}, key, "HS256"),
        "garbage": "not-a-jwt",
        "empty": "",
    }


def assert_contract_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert isinstance(body["errors"], list)
    assert body["errors"]
    for error in body["errors"]:
        assert set(error) <= {"message", "field"}
        assert isinstance(error["message"], str)
        assert not [word for word in INTERNALS if word in error["message"]], error


def test_forged_expired_and_unsigned_sessions_are_signed_out(
    stack: RunningStack, http: httpx.Client
) -> None:
    for name, token in forged_sessions(stack).items():
        ways = [{"Cookie": f"session={token}"}]
        if token:
            ways.append({"Authorization": f"Bearer {token}"})
        for how in ways:
            current = http.get("/api/users/currentuser", headers=how)
            assert current.status_code == 200, name
            assert current.json() == {"currentUser": None}, name
            for method, path, body in PROTECTED:
                response = http.request(method, path, json=body, headers=how)
                assert_contract_error(response, 401)


def test_one_user_can_never_read_change_cancel_or_pay_for_anothers(
    stack: RunningStack, http: httpx.Client
) -> None:
    seller, buyer, mallory = (stack.sign_up() for _ in range(3))
    ticket = http.post("/api/tickets", json={"title": "Gig", "price": 12}, headers=seller)
    assert ticket.status_code == 201
    ticket_id = ticket.json()["id"]
    # Mallory may see the listing (it is public) but not change it.
    edit = http.put(
        f"/api/tickets/{ticket_id}", json={"title": "Mine", "price": 1}, headers=mallory
    )
    assert_contract_error(edit, 401)
    assert http.get(f"/api/tickets/{ticket_id}").json()["title"] == "Gig"

    deadline = time.monotonic() + 20
    while True:  # the ticket reaches orders through its event
        order = http.post("/api/orders", json={"ticketId": ticket_id}, headers=buyer)
        if order.status_code == 201 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert order.status_code == 201, order.text
    order_id = order.json()["id"]

    assert_contract_error(http.get(f"/api/orders/{order_id}", headers=mallory), 401)
    assert_contract_error(http.delete(f"/api/orders/{order_id}", headers=mallory), 401)
    assert order_id not in {o["id"] for o in http.get("/api/orders", headers=mallory).json()}
    pay = http.post(
        "/api/payments", json={"orderId": order_id, "token": "pm_card_visa"}, headers=mallory
    )
    assert pay.status_code in (401, 404), pay.text  # 404 until payments has heard of it
    assert_contract_error(pay, pay.status_code)
    # Nothing Mallory did changed the buyer's order.
    mine = http.get(f"/api/orders/{order_id}", headers=buyer).json()
    assert mine["status"] == "created"
    assert http.get(f"/api/tickets/{ticket_id}").json()["status"] == "reserved"


def test_oversized_bodies_are_refused_before_parsing(
    stack: RunningStack, http: httpx.Client
) -> None:
    seller = stack.sign_up()
    huge = b'{"title": "' + b"x" * (2 * 1024 * 1024) + b'", "price": 1}'
    for path in ("/api/users/signup", "/api/tickets", "/api/orders", "/api/payments"):
        declared = http.post(
            path, content=huge, headers={**seller, "Content-Type": "application/json"}
        )
        assert_contract_error(declared, 413)

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(huge), 64 * 1024):
                yield huge[start : start + 64 * 1024]

        streamed = http.post(
            path, content=chunks(), headers={**seller, "Content-Type": "application/json"}
        )
        assert_contract_error(streamed, 413)


def test_deeply_nested_json_is_a_clean_400_and_nothing_breaks(
    stack: RunningStack, http: httpx.Client
) -> None:
    seller = stack.sign_up()
    depth = 100_000  # 200 KB: under the size limit, far over any parser's patience
    nested = ("[" * depth + "]" * depth).encode()
    objects = ('{"a":' * depth + "1" + "}" * depth).encode()
    room = "/api/waitingroom/" + "a" * 24
    for body in (nested, objects, b'{"title": ' + nested + b', "price": 1}'):
        for path in ("/api/users/signin", "/api/tickets", "/api/orders", "/api/payments", room):
            response = http.post(
                path, content=body, headers={**seller, "Content-Type": "application/json"}
            )
            # Auth takes 16 KiB at most (a sign-in waiting for a hash holds its body).
            assert_contract_error(response, 413 if path.startswith("/api/users") else 400)
    for service in ("auth", "tickets", "orders", "payments", "waitingroom"):
        assert stack.ready(service), service


def test_probing_never_reveals_internals(stack: RunningStack, http: httpx.Client) -> None:
    seller = stack.sign_up()
    probes: list[tuple[str, str, Any]] = [
        ("GET", "/api/tickets/" + "z" * 24, None),
        ("GET", "/api/tickets/%00", None),
        ("GET", "/api/orders/" + "'; db.dropDatabase(); '", None),
        ("POST", "/api/tickets", {"title": {"$gt": ""}, "price": {"$ne": 0}}),
        ("POST", "/api/orders", {"ticketId": {"$ne": None}}),
        ("POST", "/api/users/signin", {"email": {"$gt": ""}, "password": {"$gt": ""}}),
        ("PUT", "/api/tickets/" + "a" * 24, '{"title": "' + "x" * 10_000 + '", "price": 1e309}'),
        ("POST", "/api/tickets", '{"title": "NaN", "price": NaN}'),
        ("POST", "/api/payments", {"orderId": "a" * 24, "token": "pm_' OR 1=1"}),
        ("DELETE", "/api/orders/..%2F..%2Fetc%2Fpasswd", None),
        ("POST", "/api/payments/webhook", "not json at all"),
    ]
    for method, path, body in probes:
        if isinstance(body, str):  # sent as is, whatever JSON says
            raw = {**seller, "Content-Type": "application/json"}
            response = http.request(method, path, content=body, headers=raw)
        else:
            response = http.request(method, path, json=body, headers=seller)
        assert 400 <= response.status_code < 500, (method, path, response.status_code)
        assert_contract_error(response, response.status_code)
        assert "server" not in response.headers, response.headers["server"]


def test_guessing_passwords_is_rate_limited_whatever_the_forwarded_address(
    stack: RunningStack, http: httpx.Client
) -> None:
    email = f"victim-{secrets.token_hex(4)}@example.com"
    password = secrets.token_urlsafe(12)
    assert http.post("/api/users/signup", json={"email": email, "password": password}).is_success
    statuses = []
    for attempt in range(8):
        # A script rotating X-Forwarded-For: the gateway appends the real address, which wins.
        spoofed = {"X-Forwarded-For": f"203.0.113.{attempt}"}
        guess = http.post(
            "/api/users/signin",
            json={"email": email, "password": f"guess-{attempt}"},
            headers=spoofed,
        )
        statuses.append(guess.status_code)
    assert statuses[0] == 400
    assert statuses[-1] == 429, statuses
    assert_contract_error(guess, 429)
    # Even the right password is refused while the account is being guessed at.
    right = http.post("/api/users/signin", json={"email": email, "password": password})
    assert_contract_error(right, 429)
