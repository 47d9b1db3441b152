"""Passes in a real headless Chromium: the buyer's QR codes and PDF, and the seller's Scan page
reading a pass through Chromium's fake camera (a video of the pass's QR code). The orders are
placed and paid through the API beforehand. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import asyncio
import io
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from browser_support import CHROMIUM_ARGS, chromium_path, csp_violations, page_as, shot
from client_support import Visitor
from pass_support import camera_video, list_seats, paid_order
from PIL import Image
from playwright.async_api import Browser, expect

from tixtest.scanning import qr_codes
from tixtest.stack import RunningStack

MakeVisitor = Callable[[], Visitor]
# A scan is a frame decoded (every 120 ms), then a check-in and a count through the router.
SCAN_TIMEOUT = 15_000


@asynccontextmanager
async def camera_on(browser: Browser, video: Path) -> AsyncIterator[Browser]:
    """A Chromium of its own: its camera is the video, and the page may use it without
    asking."""
    camera = await browser.browser_type.launch(
        executable_path=chromium_path(),
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    try:
        yield camera
    finally:
        await camera.close()


async def test_the_buyer_sees_each_pass_qr_code_and_downloads_the_pdf(
    browser: Browser, platform: RunningStack, visitors: MakeVisitor
) -> None:
    seller, buyer = visitors().sign_up(), visitors().sign_up()
    order = paid_order(buyer.http, list_seats(seller.http, f"Cellar {uuid.uuid4().hex[:4]}", 4), 2)
    page = await page_as(browser, platform, buyer, width=390)  # a phone at the door
    refused = csp_violations(page)

    await page.goto(f"/orders/{order['id']}")

    for issued in order["passes"]:
        qr = page.get_by_role("img", name=f"QR code of seat {issued['seat']}")
        await expect(qr).to_be_visible()
        # What a scanner reads off the screen: the pass's own code.
        drawn = Image.open(io.BytesIO(await qr.screenshot()))
        assert qr_codes(drawn) == [issued["code"]]
    await expect(page.get_by_role("heading", name="Seat 2 of 2")).to_be_visible()
    await shot(page, "passes-phone")
    async with page.expect_download() as downloading:
        await page.get_by_role("link", name="Download passes (PDF)").click()
    download = await downloading.value
    assert download.suggested_filename == f"tixvibe-passes-{order['id']}.pdf"
    document = await asyncio.to_thread(Path(await download.path()).read_bytes)
    assert document.startswith(b"%PDF-")
    assert refused == []


async def test_the_seller_scans_a_pass_with_the_camera_once_and_again_is_refused(
    browser: Browser, platform: RunningStack, visitors: MakeVisitor, tmp_path: Path
) -> None:
    seller, buyer = visitors().sign_up(), visitors().sign_up()
    ticket_id = list_seats(seller.http, f"Warehouse {uuid.uuid4().hex[:4]}", 6)
    order = paid_order(buyer.http, ticket_id, 4)
    third = order["passes"][2]
    png = buyer.get(f"/api/orders/{order['id']}/passes/{third['id']}.png")
    assert png.status_code == 200
    video = camera_video(png.content, tmp_path / "pass.y4m")
    async with camera_on(browser, video) as camera:
        page = await page_as(camera, platform, seller, width=390)
        refused = csp_violations(page)
        await page.goto(f"/tickets/{ticket_id}/scan")
        result = page.locator("#scan-result")
        checked_in = page.locator('[data-count="checkedIn"]')
        await expect(checked_in).to_have_text("0")
        await expect(page.locator('[data-count="sold"]')).to_have_text("4")

        await page.get_by_role("button", name="Scan with the camera").click()

        await expect(result).to_have_text("Seat 3 of 4 — checked in", timeout=SCAN_TIMEOUT)
        await expect(result).to_have_class(re.compile(r"\bok\b"))
        await expect(checked_in).to_have_text("1")
        await shot(page, "scan-checked-in")
        # The camera keeps reading the same code: it stays one scan while it is in view. What is
        # tested is a span of time (past the 3 s after which a code out of view is read anew),
        # not something to wait for.
        await page.wait_for_timeout(4_000)
        await expect(result).to_have_text("Seat 3 of 4 — checked in")

        await page.reload()  # a new scanning session, the same pass held up again
        await page.get_by_role("button", name="Scan with the camera").click()

        await expect(result).to_have_text("Already checked in", timeout=SCAN_TIMEOUT)
        await expect(result).to_have_class(re.compile(r"\bbad\b"))
        await expect(checked_in).to_have_text("1")
        await shot(page, "scan-already")
        assert refused == []
    passes = buyer.http.get(f"/api/orders/{order['id']}").json()["passes"]
    assert [issued["status"] for issued in passes] == ["valid", "valid", "checked-in", "valid"]


async def test_the_camera_at_one_listings_door_refuses_the_sellers_pass_of_another(
    browser: Browser, platform: RunningStack, visitors: MakeVisitor, tmp_path: Path
) -> None:
    seller, buyer = visitors().sign_up(), visitors().sign_up()
    tonight = list_seats(seller.http, f"Run, night 1 {uuid.uuid4().hex[:4]}", 2)
    tomorrow = paid_order(buyer.http, list_seats(seller.http, "Run, night 2", 2), 1)
    held_up = tomorrow["passes"][0]
    png = buyer.get(f"/api/orders/{tomorrow['id']}/passes/{held_up['id']}.png")
    assert png.status_code == 200

    async with camera_on(browser, camera_video(png.content, tmp_path / "pass.y4m")) as camera:
        page = await page_as(camera, platform, seller, width=390)
        await page.goto(f"/tickets/{tonight}/scan")
        async with page.expect_response(
            lambda response: response.url.endswith("/api/checkins"), timeout=SCAN_TIMEOUT
        ) as answering:
            await page.get_by_role("button", name="Scan with the camera").click()
        answer = await answering.value

        # Orders is asked, with this door's listing, and answers for it.
        sent = answer.request.post_data_json
        assert sent is not None
        assert (sent["code"], sent["ticketId"], answer.status) == (held_up["code"], tonight, 400)
        result = page.locator("#scan-result")
        await expect(result).to_have_text("Not for this event")
        await expect(result).to_have_class(re.compile(r"\bbad\b"))
        await expect(page.locator('[data-count="checkedIn"]')).to_have_text("0")
    # Still valid for its own night.
    passes = buyer.http.get(f"/api/orders/{tomorrow['id']}").json()["passes"]
    assert [issued["status"] for issued in passes] == ["valid"]
