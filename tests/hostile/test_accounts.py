"""Attacks on account recovery, through the gateway as a script would send them: guessed and
altered tokens, another account's link, a link replayed (one after the other and two at once),
and a flood of reset requests. Each is refused with the contract's answer and changes nobody's
password; the flood is held to the per-email and per-address limits, and mails nobody more.

The stack is shared by the hostile suite and every request comes from one address, so this
module spends the address's reset allowance (20 in 15 minutes) with care, and floods last."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage

import httpx
import pytest

from tixdev.mail_server import read_messages
from tixtest.stack import RunningStack, eventually

RESET = "/api/users/password-reset"
CONFIRM = "/api/users/password-reset/confirm"
SIGNIN = "/api/users/signin"
INVALID_RESET = {"errors": [{"message": "Reset link is invalid or has expired", "field": "token"}]}
PASSWORD = "original password"
ALPHABET = string.ascii_letters + string.digits + "-_"


@pytest.fixture(scope="module")
def http(stack: RunningStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway, timeout=30) as client:
        yield client


def account(http: httpx.Client) -> str:
    email = f"victim-{secrets.token_hex(4)}@example.com"
    signup = http.post("/api/users/signup", json={"email": email, "password": PASSWORD})
    assert signup.status_code == 201
    http.cookies.clear()
    return email


def mails_to(stack: RunningStack, email: str) -> list[EmailMessage]:
    return [m for m in read_messages(stack.data_dir / "mail") if m["To"] == email]


def link_for(stack: RunningStack, http: httpx.Client, email: str) -> str:
    """Ask a reset for `email` and return the token its mail links to."""
    before = len(mails_to(stack, email))
    assert http.post(RESET, json={"email": email}).status_code == 202
    mails = eventually(lambda: (m := mails_to(stack, email)) and len(m) > before and m, 20, "mail")
    body = mails[-1].get_body(("plain",))
    assert body is not None
    found = re.search(r"/auth/reset\?token=([\w-]+)", body.get_content())
    assert found
    return found[1]


def signs_in(http: httpx.Client, email: str, password: str) -> bool:
    answer = http.post(SIGNIN, json={"email": email, "password": password})
    http.cookies.clear()
    return answer.status_code == 200


def test_guessed_and_altered_tokens_are_refused_and_change_nothing(
    stack: RunningStack, http: httpx.Client
) -> None:
    email = account(http)
    token = link_for(stack, http, email)
    altered = [
        token[:-1] + ("A" if token[-1] != "A" else "B"),  # one character off
        token[1:] + token[0],
        token[:-1],
        token + "A",
        token.upper() if token.upper() != token else token.lower(),
    ]
    guessed = ["".join(secrets.choice(ALPHABET) for _ in range(43)) for _ in range(50)]

    for candidate in altered + guessed:
        answer = http.post(CONFIRM, json={"token": candidate, "password": "attacker's choice"})
        assert (answer.status_code, answer.json()) == (400, INVALID_RESET), candidate
        assert "set-cookie" not in answer.headers

    assert signs_in(http, email, PASSWORD)
    # The genuine link still works after all that guessing: guesses do not burn it.
    assert http.post(CONFIRM, json={"token": token, "password": "the owner's new one"}).is_success
    http.cookies.clear()


def test_a_link_changes_only_the_account_it_was_mailed_for(
    stack: RunningStack, http: httpx.Client
) -> None:
    victim, attacker = account(http), account(http)
    attackers_token = link_for(stack, http, attacker)

    used = http.post(CONFIRM, json={"token": attackers_token, "password": "attacker's choice"})
    http.cookies.clear()

    assert used.status_code == 200
    assert used.json()["email"] == attacker
    assert signs_in(http, victim, PASSWORD)
    assert not signs_in(http, victim, "attacker's choice")


def test_a_link_replayed_at_once_or_later_changes_the_password_once(
    stack: RunningStack, http: httpx.Client
) -> None:
    email = account(http)
    token = link_for(stack, http, email)

    def use(password: str) -> int:
        with httpx.Client(base_url=stack.gateway, timeout=30) as client:
            return client.post(CONFIRM, json={"token": token, "password": password}).status_code

    passwords = [f"racing password {n}" for n in range(6)]
    with ThreadPoolExecutor(len(passwords)) as pool:
        answers = list(pool.map(use, passwords))
    later = http.post(CONFIRM, json={"token": token, "password": "one more try"})

    assert sorted(answers) == [200] + [400] * (len(passwords) - 1)
    winner = passwords[answers.index(200)]
    assert (later.status_code, later.json()) == (400, INVALID_RESET)
    assert signs_in(http, email, winner)
    assert not any(signs_in(http, email, p) for p in passwords if p != winner)


def test_a_flood_of_reset_requests_is_limited_and_mails_no_more(
    stack: RunningStack, http: httpx.Client
) -> None:
    email = account(http)
    per_email = [http.post(RESET, json={"email": email}) for _ in range(10)]
    codes = [answer.status_code for answer in per_email]

    assert codes[:3] == [202] * 3
    assert set(codes[3:]) == {429}
    assert all(int(a.headers["retry-after"]) > 0 for a in per_email[3:])
    eventually(lambda: len(mails_to(stack, email)) == 3, 20, "the three mails allowed")

    # Other addresses from this one client, until its own limit: the answer stays 429 from
    # then on, for any address, known or not.
    answers = [
        http.post(RESET, json={"email": f"flood-{n}@example.com"}).status_code for n in range(30)
    ]
    assert 429 in answers
    assert set(answers[answers.index(429) :]) == {429}
    assert http.post(RESET, json={"email": email}).status_code == 429
    assert len(mails_to(stack, email)) == 3
    assert signs_in(http, email, PASSWORD)
