"""What the browser tests share: this machine's Chromium, a page on the platform, screenshots."""

from __future__ import annotations

import os
import shutil
import uuid

from client_support import ARTIFACTS, Visitor
from playwright.async_api import Browser, ConsoleMessage, Page, expect

from tixtest.stack import RunningStack

# What this machine's Chromium needs to run headless as root without reaching the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if candidate and shutil.which(candidate):
            return candidate
    raise AssertionError("chromium is not installed: run scripts/ensure-chromium")


async def new_page(browser: Browser, platform: RunningStack, width: int = 1200) -> Page:
    context = await browser.new_context(
        base_url=platform.gateway, viewport={"width": width, "height": 900}
    )
    page = await context.new_page()
    page.set_default_timeout(15_000)
    return page


async def page_as(
    browser: Browser, platform: RunningStack, visitor: Visitor, width: int = 1200
) -> Page:
    """A page signed in as `visitor` (their session cookie, from the HTTP client that signed
    them up): for a user whose setup is not what the test is about."""
    page = await new_page(browser, platform, width)
    session = visitor.http.cookies["session"]
    await page.context.add_cookies([{"name": "session", "value": session, "url": platform.gateway}])
    return page


def csp_violations(page: Page) -> list[str]:
    """What the page's Content-Security-Policy refuses, as Chromium reports it."""
    refused: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    page.on("console", note)
    return refused


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def sign_up(page: Page) -> str:
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    await page.goto("/auth/signup")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill("password123")
    await page.get_by_role("button", name="Sign up").click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return email
