"""The account pages in a real headless Chromium: a forgotten password reset by the mailed link,
the password changed, and signing out everywhere seen by another browser."""

from __future__ import annotations

import time
import uuid

from browser_support import csp_violations, new_page, shot, sign_up
from client_support import mailed_reset_link, reset_links
from playwright.async_api import Browser, Locator, Page, expect

from tixtest.stack import RunningStack

# Auth ends earlier sessions everywhere within 5 s (the contract's "Accounts").
REVOKED_WITHIN = 5
SENT = (
    "If an account exists for {email}, we have sent a link to reset its password. "
    "It works for 30 minutes."
)


def signed_in_as(page: Page) -> Locator:
    """The header's Sign out button, there while the page is signed in."""
    return page.get_by_role("navigation", name="Main").get_by_role("button", name="Sign out")


async def sign_in(page: Page, email: str, password: str) -> None:
    await page.goto("/auth/signin")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(signed_in_as(page)).to_be_visible()


async def ask_for_link(page: Page, email: str) -> str:
    """Forgot your password? from the sign-in page: the words the page answers with."""
    await page.goto("/auth/signin")
    await page.get_by_role("link", name="Forgot your password?").click()
    await page.get_by_label("Email").fill(email)
    await page.get_by_role("button", name="Send reset link").click()
    answer = page.get_by_role("status")
    await expect(answer).to_be_visible()
    return await answer.inner_text()


async def signed_out_within(page: Page, seconds: float) -> None:
    """Reload a page for signed-in users until it sends this browser to sign in."""
    deadline = time.monotonic() + seconds
    while True:
        await page.goto("/auth/account")
        if "/auth/signin" in page.url:
            return
        assert time.monotonic() < deadline, f"still signed in after {seconds}s"


async def test_forgot_answers_the_same_for_an_account_and_for_no_account(
    browser: Browser, platform: RunningStack
) -> None:
    account = await new_page(browser, platform)
    email = await sign_up(account)
    nobody = f"nobody-{uuid.uuid4().hex[:10]}@example.com"
    visitor = await new_page(browser, platform)
    refused = csp_violations(visitor)

    known = await ask_for_link(visitor, email)
    await shot(visitor, "forgot-sent")
    unknown = await ask_for_link(visitor, nobody)

    assert known == SENT.format(email=email)
    assert unknown == SENT.format(email=nobody)
    assert refused == []
    mailed_reset_link(platform.data_dir / "mail", email)
    assert reset_links(platform.data_dir / "mail", nobody) == []


async def test_the_mailed_link_sets_a_new_password_and_signs_out_every_other_browser(
    browser: Browser, platform: RunningStack
) -> None:
    laptop = await new_page(browser, platform)
    email = await sign_up(laptop)
    phone = await new_page(browser, platform, width=390)
    await ask_for_link(phone, email)
    link = mailed_reset_link(platform.data_dir / "mail", email)

    await phone.goto(link)
    await phone.get_by_label("New password").fill("a-new-password")
    await shot(phone, "reset")
    await phone.get_by_role("button", name="Change password").click()

    await expect(phone.get_by_role("status")).to_have_text(
        "Your password has been changed. You are signed in; every other session has been "
        "signed out."
    )
    await expect(signed_in_as(phone)).to_be_visible()
    await shot(phone, "reset-done")
    await signed_out_within(laptop, REVOKED_WITHIN)
    await sign_in(laptop, email, "a-new-password")


async def test_a_spent_link_says_so_and_leads_to_a_new_one(
    browser: Browser, platform: RunningStack
) -> None:
    email = await sign_up(await new_page(browser, platform))
    page = await new_page(browser, platform)
    await ask_for_link(page, email)
    link = mailed_reset_link(platform.data_dir / "mail", email)
    for password in ("first-new-password", "second-new-password"):
        await page.goto(link)
        await page.get_by_label("New password").fill(password)
        await page.get_by_role("button", name="Change password").click()

    await expect(page.get_by_role("alert")).to_have_text(
        "This reset link is invalid or has expired."
    )
    await shot(page, "reset-spent")
    await page.get_by_role("link", name="Ask for a new link").click()
    await expect(page.get_by_role("button", name="Send reset link")).to_be_visible()


async def test_changing_the_password_needs_the_current_one(
    browser: Browser, platform: RunningStack
) -> None:
    page = await new_page(browser, platform)
    await sign_up(page)
    await page.get_by_role("link", name="Account", exact=True).click()

    await page.get_by_label("Current password").fill("not-my-password")
    await page.get_by_label("New password").fill("a-new-password")
    await page.get_by_role("button", name="Change password").click()
    await expect(page.locator("#currentPassword-error")).to_have_text("Invalid credentials")
    await expect(page.get_by_label("Current password")).to_have_attribute("aria-invalid", "true")
    await shot(page, "account-wrong-password")
    await page.get_by_label("Current password").fill("password123")
    await page.get_by_label("New password").fill("a-new-password")
    await page.get_by_role("button", name="Change password").click()

    await expect(page.get_by_role("status")).to_have_text(
        "Password changed; every other session has been signed out."
    )
    await expect(signed_in_as(page)).to_be_visible()  # this session stays


async def test_signing_out_everywhere_signs_out_the_other_browser_too(
    browser: Browser, platform: RunningStack
) -> None:
    laptop = await new_page(browser, platform)
    email = await sign_up(laptop)
    phone = await new_page(browser, platform, width=390)
    await sign_in(phone, email, "password123")
    await phone.get_by_role("link", name="Account", exact=True).click()
    await shot(phone, "account")

    await phone.get_by_role("button", name="Sign out everywhere").click()

    await expect(phone.get_by_role("status")).to_have_text(
        "You have been signed out on every device."
    )
    await expect(phone.get_by_role("heading", name="Sign in")).to_be_visible()
    await signed_out_within(laptop, REVOKED_WITHIN)
