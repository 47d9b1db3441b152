"""The account pages, through the gateway with the whole platform running, as a browser without
JavaScript sees them: a forgotten password's link by mail and the reset page, changing the
password, signing out everywhere."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
from client_support import Visitor, mailed_reset_link, reset_links

from tixtest.stack import RunningStack, eventually
from webclient.pages.auth import retry_later

MakeVisitor = Callable[[], Visitor]
_URLS = re.compile(r'(?:src|href|action)="([^"]*)"')
# Auth ends earlier sessions everywhere within 5 s (the contract's "Accounts").
REVOKED_WITHIN = 5


def reset_path(link: str) -> str:
    """The mailed link as the browser opens it on this stack: its path and query."""
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def token_of(link: str) -> str:
    return urlsplit(link).query.removeprefix("token=")


def another_session(visitors: MakeVisitor, account: Visitor) -> Visitor:
    """The same account signed in from another device."""
    elsewhere = visitors()
    elsewhere.email, elsewhere.password = account.email, account.password
    return elsewhere.sign_in()


def notice(page: httpx.Response) -> str | None:
    found = re.search(r'<div class="notice" role="status">([^<]*)</div>', page.text)
    return html.unescape(found.group(1)) if found else None


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


# -- with auth's routes of the contract's "Accounts" -------------------------------------------


def test_forgot_says_the_same_for_an_account_and_for_no_account(
    visitors: MakeVisitor, platform: RunningStack
) -> None:
    account = visitors().sign_up()
    nobody = f"nobody-{uuid.uuid4().hex[:10]}@example.com"

    known = visitors().submit("/auth/forgot", {"email": account.email})
    unknown = visitors().submit("/auth/forgot", {"email": nobody})

    assert (known.status_code, unknown.status_code) == (200, 200)
    assert notice(known) == (
        f"If an account exists for {account.email}, we have sent a link to reset its password. "
        "It works for 30 minutes."
    )
    assert known.text.replace(account.email, nobody) == unknown.text  # word for word
    mailed_reset_link(platform.data_dir / "mail", account.email)
    assert reset_links(platform.data_dir / "mail", nobody) == []


def test_forgot_shows_a_malformed_email_next_to_its_field(visitors: MakeVisitor) -> None:
    page = visitors().submit("/auth/forgot", {"email": "not-an-email"})

    assert page.status_code == 400
    assert 'id="email-error">' in page.text
    assert 'value="not-an-email"' in page.text
    assert 'role="status"' not in page.text


def test_forgot_asked_too_often_says_when_to_try_again(visitors: MakeVisitor) -> None:
    account = visitors().sign_up()
    visitor = visitors()

    def limited() -> httpx.Response | None:
        page: httpx.Response = visitor.submit("/auth/forgot", {"email": account.email})
        assert page.status_code in (200, 429), page.text
        return page if page.status_code == 429 else None

    page = eventually(limited, 30, "a 429 for one email asked for again and again")

    assert re.search(r"Too many requests, try again in \d+ minutes?\.", page.text), page.text
    assert f'value="{account.email}"' in page.text


def test_the_mailed_link_sets_a_new_password_and_ends_every_other_session(
    visitors: MakeVisitor, platform: RunningStack
) -> None:
    account = visitors().sign_up()
    elsewhere = another_session(visitors, account)
    browser = visitors()
    browser.submit("/auth/forgot", {"email": account.email})
    link = mailed_reset_link(platform.data_dir / "mail", account.email)

    form = browser.get(reset_path(link))
    short = browser.submit(
        "/auth/reset", {"token": token_of(link), "password": "short"}, from_page=reset_path(link)
    )
    done = browser.submit(
        "/auth/reset",
        {"token": token_of(link), "password": "a-new-password"},
        from_page=reset_path(link),
    )

    assert link.startswith(f"{platform.gateway}/auth/reset?token=")
    assert form.status_code == 200
    assert short.status_code == 400
    assert 'id="password-error">' in short.text
    assert f'name="token" value="{token_of(link)}"' in short.text  # the link still works
    assert (done.status_code, done.headers["location"]) == (303, "/auth/account?done=reset")
    assert "session=" in done.headers["set-cookie"]
    assert notice(browser.get("/auth/account")) is None  # the notice is the redirect's only
    assert notice(browser.get(done.headers["location"])) == (
        "Your password has been changed. You are signed in; every other session has been "
        "signed out."
    )
    eventually(lambda: not elsewhere.signed_in(), REVOKED_WITHIN, "the other session ended")
    assert browser.signed_in()
    old = visitors().submit("/auth/signin", {"email": account.email, "password": account.password})
    assert old.status_code == 400


def test_a_reset_link_used_once_is_refused_with_a_way_to_ask_again(
    visitors: MakeVisitor, platform: RunningStack
) -> None:
    account = visitors().sign_up()
    visitor = visitors()
    visitor.submit("/auth/forgot", {"email": account.email})
    link = mailed_reset_link(platform.data_dir / "mail", account.email)
    body = {"token": token_of(link), "password": "first-new-password"}
    first = visitor.submit("/auth/reset", body, from_page=reset_path(link))

    again = visitors().submit(
        "/auth/reset",
        {"token": token_of(link), "password": "second-new-password"},
        from_page=reset_path(link),
    )

    assert first.status_code == 303
    assert again.status_code == 400
    assert "This reset link is invalid or has expired." in again.text
    assert 'href="/auth/forgot"' in again.text
    assert token_of(link) not in again.text
    assert again.headers.get_list("referrer-policy") == ["no-referrer"]
    assert "set-cookie" not in again.headers or "session=" not in again.headers["set-cookie"]


def test_changing_the_password_needs_the_current_one_and_ends_every_other_session(
    visitors: MakeVisitor,
) -> None:
    account = visitors().sign_up()
    elsewhere = another_session(visitors, account)

    wrong = account.submit(
        "/auth/account/password",
        {"currentPassword": "not-my-password", "newPassword": "a-new-password"},
        from_page="/auth/account",
    )
    short = account.submit(
        "/auth/account/password",
        {"currentPassword": account.password, "newPassword": "short"},
        from_page="/auth/account",
    )
    changed = account.submit(
        "/auth/account/password",
        {"currentPassword": account.password, "newPassword": "a-new-password"},
        from_page="/auth/account",
    )

    assert wrong.status_code == 400
    assert 'id="currentPassword-error">Invalid credentials</p>' in wrong.text
    assert short.status_code == 400
    assert 'id="newPassword-error">' in short.text
    assert (changed.status_code, changed.headers["location"]) == (
        303,
        "/auth/account?done=changed",
    )
    assert "session=" in changed.headers["set-cookie"]
    assert notice(account.get(changed.headers["location"])) == (
        "Password changed; every other session has been signed out."
    )
    eventually(lambda: not elsewhere.signed_in(), REVOKED_WITHIN, "the other session ended")
    assert account.signed_in()


def test_signing_out_everywhere_ends_this_session_and_every_other(
    visitors: MakeVisitor,
) -> None:
    account = visitors().sign_up()
    elsewhere = another_session(visitors, account)

    response = account.submit("/auth/account/signout-everywhere", {}, from_page="/auth/account")

    assert (response.status_code, response.headers["location"]) == (
        303,
        "/auth/signin?done=everywhere",
    )
    cookie = response.headers["set-cookie"]
    assert "session=" in cookie
    assert "Max-Age=0" in cookie or "expires" in cookie.lower()
    assert notice(account.get(response.headers["location"])) == (
        "You have been signed out on every device."
    )
    assert not account.signed_in()
    eventually(lambda: not elsewhere.signed_in(), REVOKED_WITHIN, "the other session ended")
