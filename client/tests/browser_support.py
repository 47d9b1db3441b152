"""What the browser tests share: this machine's Chromium, a page on the platform, screenshots."""

from __future__ import annotations

import os
import shutil
import uuid

from client_support import ARTIFACTS
from playwright.async_api import Browser, Page, expect

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
