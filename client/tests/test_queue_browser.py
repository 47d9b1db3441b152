"""The on-sale in a real headless Chromium: joining a waiting room through ALTCHA's widget, and
each state of a place as the buyer watches it change (the page updates itself). Rivals act
through the API. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from browser_support import csp_violations, new_page, shot
from client_support import ADMISSION_SECONDS
from playwright.async_api import APIRequestContext, Browser, Page, expect

from tixtest import wait_until
from tixtest.altcha import solved
from tixtest.stack import RunningStack

# How long a page may take to show what the room decided: a poll every refreshSeconds (1 to 3
# in these tests), the room's round (0.25 s) and the ticket events' hop.
ROOM_TIMEOUT = 15_000
TURN = "It's your turn: you can buy now"


async def signed_in(browser: Browser, platform: RunningStack) -> Page:
    """A page whose context is signed in (through the API: signing up is not what is tested)."""
    page = await new_page(browser, platform)
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    reply = await page.request.post(
        "/api/users/signup", data={"email": email, "password": "password123"}
    )
    assert reply.status == 201
    return page


async def list_on_sale(
    seller: Page, title: str, *, opens_in: float, seats: int = 1, limit: int | None = None
) -> tuple[str, datetime]:
    """A listing whose sale opens `opens_in` seconds from now: its id, and that moment."""
    on_sale_at = datetime.now(UTC) + timedelta(seconds=opens_in)
    body: dict[str, Any] = {
        "title": title, "price": "20", "quantity": seats, "onSaleAt": on_sale_at.isoformat(),
    }  # fmt: skip
    if limit is not None:
        body["perBuyerLimit"] = limit
    reply = await seller.request.post("/api/tickets", data=body)
    assert reply.status == 201
    return str((await reply.json())["id"]), on_sale_at


async def join(page: Page, ticket_id: str, button: str = "Join the queue") -> None:
    """Press Join: the widget solves the room's proof of work, then the form goes, and the
    place's page follows."""
    async with page.expect_navigation(url=f"**/tickets/{ticket_id}/queue"):
        await page.get_by_role("button", name=button).click()


async def watch_without_reload(page: Page) -> None:
    """Mark the document: a reload would make a new one, without the mark."""
    await page.evaluate("window.sameDocument = true")


async def same_document(page: Page) -> bool:
    return bool(await page.evaluate("window.sameDocument === true"))


class Rival:
    """Another buyer, through the API: joins with the proof of work solved, orders with their
    admission, cancels."""

    def __init__(self, api: APIRequestContext) -> None:
        self.api = api

    @classmethod
    async def signed_up(cls, browser: Browser, platform: RunningStack) -> Rival:
        return cls((await signed_in(browser, platform)).request)

    async def join(self, ticket_id: str) -> None:
        async def attempt() -> bool:
            challenge = await (await self.api.get("/api/waitingroom/challenge")).json()
            reply = await self.api.post(
                f"/api/waitingroom/{ticket_id}", data={"altcha": solved(challenge)}
            )
            # 404: the room hears of a new listing a moment after it is listed.
            assert reply.status in (201, 404), await reply.text()
            return reply.status == 201

        await wait_until(attempt, message="joined")

    async def admission(self, ticket_id: str) -> str:
        async def admitted() -> str | None:
            place = await (await self.api.get(f"/api/waitingroom/{ticket_id}")).json()
            return str(place["admission"]) if place["status"] == "admitted" else None

        admission: str = await wait_until(admitted, timeout=15, message="admitted")
        return admission

    async def buy(self, ticket_id: str) -> str:
        reply = await self.api.post(
            "/api/orders",
            data={"ticketId": ticket_id},
            headers={"Waiting-Room-Admission": await self.admission(ticket_id)},
        )
        assert reply.status == 201, await reply.text()
        return str((await reply.json())["id"])

    async def cancel(self, order_id: str) -> None:
        assert (await self.api.delete(f"/api/orders/{order_id}")).status == 204


async def test_an_early_joiner_sees_the_draw_coming_then_buys_in_their_turn(
    browser: Browser, platform: RunningStack
) -> None:
    seller = await signed_in(browser, platform)
    buyer = await signed_in(browser, platform)
    refused = csp_violations(buyer)
    title = f"Stadium {uuid.uuid4().hex[:4]}"
    ticket_id, _ = await list_on_sale(seller, title, opens_in=5, seats=5, limit=2)

    await buyer.goto(f"/tickets/{ticket_id}")
    await expect(buyer.locator(".on-sale")).to_contain_text("On sale")
    await expect(buyer.get_by_role("checkbox", name="I'm not a robot")).to_be_visible()
    await shot(buyer, "ticket-on-sale")
    await join(buyer, ticket_id)
    await expect(buyer.get_by_text("The draw is at")).to_be_visible()
    await expect(buyer.get_by_text("Until the draw")).to_be_visible()
    await shot(buyer, "queue-before-draw")

    # The draw admits the only early joiner: the page asks, and turns into the purchase form.
    await expect(buyer.get_by_text(TURN)).to_be_visible(timeout=ROOM_TIMEOUT)
    await expect(buyer.get_by_role("timer")).to_contain_text("left to buy")
    await expect(buyer.get_by_label("Seats").locator("option")).to_have_count(2)  # the limit
    await shot(buyer, "queue-admitted")
    await buyer.get_by_label("Seats").select_option("2")
    await buyer.get_by_role("button", name="Purchase").click()

    await buyer.wait_for_url("**/orders/*")
    await expect(buyer.get_by_text("2 seats at $20.00")).to_be_visible()
    await expect(buyer.get_by_role("button", name="Pay $40.00")).to_be_visible()
    assert refused == []  # the widget and its workers run under the page's policy


async def test_a_buyer_in_line_watches_their_place_the_sell_out_and_the_seat_coming_back(
    browser: Browser, platform: RunningStack
) -> None:
    seller = await signed_in(browser, platform)
    ticket_id, on_sale_at = await list_on_sale(seller, f"Club {uuid.uuid4().hex[:4]}", opens_in=2)
    first = await Rival.signed_up(browser, platform)
    second = await Rival.signed_up(browser, platform)
    buyer = await signed_in(browser, platform)
    await buyer.goto(f"/tickets/{ticket_id}")
    # Joined after the sale opened, so in this order: `first` is admitted to the only seat.
    await wait_until(lambda: datetime.now(UTC) >= on_sale_at, timeout=10, message="on sale")
    await first.join(ticket_id)
    await second.join(ticket_id)

    await join(buyer, ticket_id)
    figures = buyer.locator(".figures")
    position, ahead = (
        figures.locator('[data-field="position"]'),
        figures.locator('[data-field="ahead"]'),
    )
    await expect(position).to_have_text("2", timeout=ROOM_TIMEOUT)
    await expect(ahead).to_have_text("1")
    await expect(buyer.get_by_text("Estimated wait")).to_be_visible()
    await shot(buyer, "queue-in-line")
    await watch_without_reload(buyer)

    order_id = await first.buy(ticket_id)
    sold_out = buyer.get_by_text("Every seat is held or sold right now")
    await expect(sold_out).to_be_visible(timeout=ROOM_TIMEOUT)
    await expect(figures).to_be_visible()  # the place is kept
    await shot(buyer, "queue-sold-out")

    await first.cancel(order_id)  # the seat comes back, for `second`: the buyer is next
    await expect(sold_out).to_be_hidden(timeout=ROOM_TIMEOUT)
    await expect(position).to_have_text("1", timeout=ROOM_TIMEOUT)
    await expect(ahead).to_have_text("0")
    assert await same_document(buyer)  # all of it without a reload


async def test_a_turn_that_lapses_unused_says_so_and_joining_again_queues_at_the_back(
    browser: Browser, platform: RunningStack
) -> None:
    seller = await signed_in(browser, platform)
    buyer = await signed_in(browser, platform)
    refused = csp_violations(buyer)
    ticket_id, _ = await list_on_sale(seller, f"Matinee {uuid.uuid4().hex[:4]}", opens_in=2)
    await buyer.goto(f"/tickets/{ticket_id}")
    await join(buyer, ticket_id)
    await expect(buyer.get_by_text(TURN)).to_be_visible(timeout=ROOM_TIMEOUT)

    lapse = (ADMISSION_SECONDS * 1000) + ROOM_TIMEOUT
    await expect(buyer.get_by_text("the admission lapsed before you used it")).to_be_visible(
        timeout=lapse
    )
    await expect(buyer.get_by_role("button", name="Purchase")).to_have_count(0)
    await shot(buyer, "queue-expired")
    await join(buyer, ticket_id, button="Join again")

    await expect(buyer.get_by_text(TURN)).to_be_visible(timeout=ROOM_TIMEOUT)
    assert refused == []
