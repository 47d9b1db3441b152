"""The account pages, through the gateway with the whole platform running, as a browser without
JavaScript sees them: a forgotten password's link by mail and the reset page, changing the
password, signing out everywhere."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
from client_support import Visitor

from webclient.pages.auth import retry_later

MakeVisitor = Callable[[], Visitor]
_URLS = re.compile(r'(?:src|href|action)="([^"]*)"')


def test_sign_in_offers_a_link_for_a_forgotten_password(visitors: MakeVisitor) -> None:
    page = visitors().get("/auth/signin")

    assert '<a href="/auth/forgot">Forgot your password?</a>' in page.text
    assert "Forgot your password?" not in visitors().get("/auth/signup").text


def test_the_header_links_a_signed_in_user_to_their_account(visitors: MakeVisitor) -> None:
    account = visitors().sign_up()

    page = account.get("/auth/account")

    assert page.status_code == 200
    assert '<a href="/auth/account">Account</a>' in account.get("/").text
    assert f"Signed in as <strong>{account.email}</strong>" in page.text
    assert 'action="/auth/account/password"' in page.text
    assert 'action="/auth/account/signout-everywhere"' in page.text
    assert '<a href="/auth/account">' not in visitors().get("/").text


def test_the_reset_page_keeps_its_token_to_itself(visitors: MakeVisitor) -> None:
    token = f"t{uuid.uuid4().hex}"

    page = visitors().get(f"/auth/reset?token={token}")

    assert page.status_code == 200
    assert page.headers.get_list("referrer-policy") == ["no-referrer"]
    assert f'<input type="hidden" name="token" value="{token}">' in page.text
    assert page.text.count(token) == 1  # in the form's body only, never in a URL it makes
    assert 'action="/auth/reset"' in page.text
    urls = _URLS.findall(page.text)
    assert urls
    assert not [url for url in urls if urlsplit(url).scheme or urlsplit(url).netloc]  # ours only
    other = visitors().get("/auth/forgot")
    assert other.headers.get_list("referrer-policy") == ["same-origin"]


def test_a_reset_page_without_a_token_offers_a_new_link(visitors: MakeVisitor) -> None:
    page = visitors().get("/auth/reset")

    assert "This reset link is invalid or has expired." in page.text
    assert '<a class="button" href="/auth/forgot">Ask for a new link</a>' in page.text
    assert 'name="password"' not in page.text


def test_too_many_requests_are_worded_in_minutes_from_retry_after() -> None:
    def limited(retry_after: str | None) -> str:
        headers = {"retry-after": retry_after} if retry_after is not None else {}
        return retry_later(httpx.Response(429, headers=headers))

    assert limited("1") == "Too many requests, try again in 1 minute."
    assert limited("60") == "Too many requests, try again in 1 minute."
    assert limited("61") == "Too many requests, try again in 2 minutes."
    assert limited("900") == "Too many requests, try again in 15 minutes."
    assert limited(None) == "Too many requests, try again later."
    assert limited("Wed, 21 Oct 2026 07:28:00 GMT") == "Too many requests, try again later."
