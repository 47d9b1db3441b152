"""The storefront in a real headless Chromium: the purchase with a card, and a reservation
lapsing while the buyer watches. Screenshots of the main pages go to tests/artifacts/."""

from __future__ import annotations

import time
import uuid

from browser_support import new_page, shot, sign_up
from client_support import RESERVATION_SECONDS
from playwright.async_api import Browser, Page, expect

from tixtest.stack import RunningStack


async def list_ticket(page: Page, title: str, price: str, seats: int = 1) -> None:
    await page.get_by_role("link", name="Sell a ticket").first.click()
    await page.get_by_label("Event and seat").fill(title)
    await page.get_by_label("Price (USD)").fill(price)
    await page.get_by_label("Seats").fill(str(seats))
    await page.get_by_role("button", name="List ticket").click()
    await expect(page.get_by_text("Your ticket is listed")).to_be_visible()


async def buy(page: Page, title: str, seats: int | None = None) -> None:
    await page.goto("/")
    await page.get_by_role("link", name=title).click()
    # The listing reaches orders within milliseconds; a click before that is refused.
    for _ in range(20):
        if seats is not None:
            await page.get_by_label("Seats").select_option(str(seats))
        await page.get_by_role("button", name="Purchase").click()
        if "/orders/" in page.url:
            return
        await page.goto(page.url.split("/purchase")[0])
    raise AssertionError("purchase never accepted")


async def reload_until(page: Page, text: str, timeout: float = 15) -> None:
    """Reload until the page shows `text`: for state the server changes after an event."""
    deadline = time.monotonic() + timeout
    while not await page.get_by_text(text).count():
        assert time.monotonic() < deadline, f"{text!r} not shown within {timeout}s"
        await page.reload()
    await expect(page.get_by_text(text).first).to_be_visible()


async def seller_lists(
    browser: Browser, platform: RunningStack, title: str, price: str, seats: int = 1
) -> Page:
    seller = await new_page(browser, platform)
    await sign_up(seller)
    await list_ticket(seller, title, price, seats)
    return seller


async def fill_card(page: Page, number: str, postal_code: str = "10001") -> None:
    """Type into the card field Stripe.js mounted (the local server's: one input a part)."""
    card = page.locator("#card-element")
    await card.locator("input[placeholder=number]").fill(number)
    await card.locator("input[placeholder=exp_month]").fill("12")
    await card.locator("input[placeholder=exp_year]").fill("34")
    await card.locator("input[placeholder=cvc]").fill("123")
    await card.locator("input[placeholder=postal_code]").fill(postal_code)


async def test_a_buyer_pays_by_card_and_sees_the_order_complete(
    browser: Browser, platform: RunningStack
) -> None:
    title = f"Rooftop jazz {uuid.uuid4().hex[:4]}"
    seller = await seller_lists(browser, platform, title, "42.50")
    await shot(seller, "ticket")

    buyer = await new_page(browser, platform)
    await buyer.goto("/")
    await expect(buyer.get_by_role("link", name=title)).to_be_visible()
    await shot(buyer, "home")
    await sign_up(buyer)
    await buy(buyer, title)
    await expect(buyer.get_by_text("left to pay")).to_be_visible()
    await fill_card(buyer, "4242424242424242")
    await shot(buyer, "order")
    await buyer.get_by_role("button", name="Pay $42.50").click()

    await buyer.wait_for_url("**/orders?paid=*")
    await expect(buyer.get_by_text("Payment received")).to_be_visible()
    await reload_until(buyer, "Complete")  # payment.created reaches orders just after
    await expect(
        buyer.get_by_role("row").filter(has_text=title).get_by_text("Complete")
    ).to_be_visible()
    await shot(buyer, "orders")

    await seller.goto("/tickets/mine")
    await expect(
        seller.get_by_role("row").filter(has_text=title).get_by_text("Sold")
    ).to_be_visible()
    await shot(seller, "my-tickets")


async def test_an_unpaid_reservation_lapses_in_front_of_the_buyer(
    browser: Browser, platform: RunningStack
) -> None:
    title = f"Matinee {uuid.uuid4().hex[:4]}"
    await seller_lists(browser, platform, title, "15")
    buyer = await new_page(browser, platform, width=390)  # a phone
    await sign_up(buyer)
    await buy(buyer, title)
    await expect(buyer.get_by_role("button", name="Pay $15.00")).to_be_visible()
    await shot(buyer, "order-phone")

    await expect(buyer.get_by_text("Order expired")).to_be_visible(
        timeout=(RESERVATION_SECONDS + 5) * 1000
    )
    await expect(buyer.get_by_role("button", name="Pay $15.00")).to_be_hidden()
    await reload_until(buyer, "This order was cancelled")
    other = await new_page(browser, platform)
    await sign_up(other)
    await other.goto("/")
    await other.get_by_role("link", name=title).click()
    await expect(other.get_by_role("button", name="Purchase")).to_be_enabled()


async def test_a_declined_card_shows_stripes_message_and_keeps_the_order(
    browser: Browser, platform: RunningStack
) -> None:
    title = f"Quartet {uuid.uuid4().hex[:4]}"
    await seller_lists(browser, platform, title, "20")
    buyer = await new_page(browser, platform)
    await sign_up(buyer)
    await buy(buyer, title)
    await fill_card(buyer, "4000000000000341")  # accepted, but its charge is declined

    await buyer.get_by_role("button", name="Pay $20.00").click()

    await expect(buyer.locator("#payment-error")).to_contain_text("declined")
    assert "paid=" not in buyer.url
    await expect(buyer.get_by_role("button", name="Pay $20.00")).to_be_enabled()


async def test_a_buyer_buys_several_seats_of_a_listing_and_pays_for_them_all(
    browser: Browser, platform: RunningStack
) -> None:
    title = f"Choir {uuid.uuid4().hex[:4]}"
    seller = await seller_lists(browser, platform, title, "12.50", seats=20)
    await expect(seller.get_by_text("20 of 20 seats left")).to_be_visible()

    buyer = await new_page(browser, platform)
    await sign_up(buyer)
    await buyer.goto("/")
    card = buyer.get_by_role("listitem").filter(has_text=title)
    await expect(card).to_contain_text("20 of 20 left")
    await buy(buyer, title, seats=3)
    await expect(buyer.get_by_text("3 seats at $12.50")).to_be_visible()
    await fill_card(buyer, "4242424242424242")
    await buyer.get_by_role("button", name="Pay $37.50").click()

    await buyer.wait_for_url("**/orders?paid=*")
    await reload_until(buyer, "Complete")
    row = buyer.get_by_role("row").filter(has_text=title)
    await expect(row).to_contain_text("$37.50")
    await shot(buyer, "orders-seats")

    await seller.goto("/tickets/mine")
    await reload_until(seller, "3 of 20")
    mine = seller.get_by_role("row").filter(has_text=title)
    await expect(mine.get_by_role("cell")).to_have_text(
        [title, "$12.50", "3 of 20", "0", "17", "For sale", f"Edit {title} Scan passes for {title}"]
    )
    await shot(seller, "my-tickets-seats")


async def test_a_buyer_asking_for_more_seats_than_are_left_is_told_and_can_take_fewer(
    browser: Browser, platform: RunningStack
) -> None:
    title = f"Trio {uuid.uuid4().hex[:4]}"
    await seller_lists(browser, platform, title, "30", seats=3)
    late = await new_page(browser, platform)
    await sign_up(late)
    await late.goto("/")
    await late.get_by_role("link", name=title).click()
    await expect(late.get_by_label("Seats").locator("option")).to_have_count(3)
    await late.get_by_label("Seats").select_option("3")

    early = await new_page(browser, platform)  # takes two seats while `late` decides
    await sign_up(early)
    await buy(early, title, seats=2)
    await late.get_by_role("button", name="Purchase").click()

    await expect(late.get_by_role("alert")).to_contain_text("Not enough seats available")
    await expect(late.get_by_text("1 of 3 seats left")).to_be_visible()
    await expect(late.get_by_label("Seats").locator("option")).to_have_count(1)
    await shot(late, "not-enough-seats")
    await late.get_by_role("button", name="Purchase").click()
    await late.wait_for_url("**/orders/*")
    await expect(late.get_by_role("button", name="Pay $30.00")).to_be_visible()


async def test_a_seller_lists_an_event_and_a_buyer_finds_it_by_search_and_filters(
    browser: Browser, platform: RunningStack
) -> None:
    word = f"gala{uuid.uuid4().hex[:6]}"
    seller = await new_page(browser, platform)
    await sign_up(seller)
    await seller.get_by_role("link", name="Sell a ticket").first.click()
    await seller.get_by_label("Event and seat").fill(f"{word} opera night")
    await seller.get_by_label("Price (USD)").fill("64")
    await seller.get_by_label("Starts at (UTC, optional)").fill("2099-03-14T19:30")
    await seller.get_by_label("Venue (optional)").fill("Royal Opera House")
    await seller.get_by_role("button", name="List ticket").click()
    await expect(seller.get_by_text("Your ticket is listed")).to_be_visible()
    await list_ticket(seller, f"{word} cheap seats", "9")

    buyer = await new_page(browser, platform)
    await buyer.goto("/")
    await buyer.get_by_role("searchbox", name="Search").fill(f"{word} opera")
    await buyer.get_by_label("Min price (USD)").fill("10")
    await buyer.get_by_label("Sort by").select_option("startsAt")
    await buyer.get_by_role("button", name="Search").click()

    results = buyer.get_by_role("list", name="Tickets for sale")
    await expect(results.get_by_role("listitem")).to_have_count(1)
    card = results.get_by_role("listitem").first
    await expect(card).to_contain_text(f"{word} opera night")
    await expect(card).to_contain_text("Sat 14 Mar 2099, 19:30 UTC")
    await expect(card).to_contain_text("Royal Opera House")
    assert f"q={word}+opera" in buyer.url  # a result page is a URL to share
    await expect(buyer.get_by_label("Min price (USD)")).to_have_value("10")
    await shot(buyer, "search")

    await buyer.get_by_role("searchbox", name="Search").fill(f"{word} nothing")
    await buyer.get_by_role("button", name="Search").click()
    await expect(buyer.get_by_text("No tickets match your search")).to_be_visible()
    await buyer.get_by_role("link", name="Clear filters").first.click()
    await expect(buyer.get_by_role("searchbox", name="Search")).to_have_value("")


# How an input looks, read from the page: what must be the same for every field of a form.
FIELD_LOOKS = """form => Object.fromEntries(
    [...form.querySelectorAll("input:not([type=hidden]), select, textarea")].map(input => {
        const style = getComputedStyle(input);
        const looks = ["width", "padding", "border-radius", "border-top-width", "border-top-style",
            "font-family", "font-size", "background-color"];
        return [input.name, looks.map(name => style.getPropertyValue(name)).join(" | ")];
    }))"""


async def fields_look_alike(page: Page) -> None:
    looks: dict[str, str] = await page.locator("form.ticket-form").evaluate(FIELD_LOOKS)
    assert "quantity" in looks
    assert {name: look for name, look in looks.items() if look != looks["title"]} == {}


async def test_the_sell_and_edit_forms_show_seats_like_every_other_field(
    browser: Browser, platform: RunningStack
) -> None:
    title = f"Proms {uuid.uuid4().hex[:4]}"
    seller = await new_page(browser, platform)
    await sign_up(seller)
    await seller.get_by_role("link", name="Sell a ticket").first.click()
    await seller.get_by_label("Event and seat").fill(title)
    await seller.get_by_label("Price (USD)").fill("18")
    await seller.get_by_label("Seats").fill("20")
    await seller.get_by_label("Starts at (UTC, optional)").fill("2099-07-18T19:00")
    await seller.get_by_label("Venue (optional)").fill("Royal Albert Hall, the arena")
    await seller.get_by_label("Description (optional)").fill("Standing, promenade tickets.")
    await fields_look_alike(seller)
    await shot(seller, "sell-form")
    await seller.get_by_role("button", name="List ticket").click()
    await expect(seller.get_by_text("20 of 20 seats left")).to_be_visible()

    await seller.get_by_role("link", name="Edit this listing").click()
    await expect(seller.get_by_label("Seats")).to_have_value("20")
    await seller.get_by_label("Seats").fill("0")
    await seller.get_by_role("button", name="Save changes").click()
    await expect(seller.locator("#quantity-error")).to_be_visible()  # beside the field, in red
    await fields_look_alike(seller)
    await shot(seller, "edit-form")
    await seller.get_by_label("Seats").fill("25")
    await seller.get_by_role("button", name="Save changes").click()
    await expect(seller.get_by_text("25 of 25 seats left")).to_be_visible()


async def test_a_buyer_pages_through_results_on_a_phone(
    browser: Browser, platform: RunningStack
) -> None:
    word = f"tour{uuid.uuid4().hex[:6]}"
    seller = await new_page(browser, platform)
    await sign_up(seller)
    for n in range(52):
        reply = await seller.request.post(
            "/api/tickets", data={"title": f"{word} {n}", "price": 20}
        )
        assert reply.status == 201
    unbroken = "Supercalifragilistic" * 3  # 60 letters without a break
    reply = await seller.request.post(
        "/api/tickets", data={"title": f"{word} {unbroken}", "price": 20}
    )
    assert reply.status == 201

    phone = await new_page(browser, platform, width=390)
    await phone.goto("/")
    await phone.get_by_role("searchbox", name="Search").fill(word)
    await phone.get_by_role("button", name="Search").click()
    results = phone.get_by_role("list", name="Tickets for sale").get_by_role("listitem")
    await expect(results).to_have_count(50)
    await expect(results.first).to_contain_text(unbroken)  # newest first
    # Nothing is wider than the phone: long titles wrap inside their card.
    assert await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await shot(phone, "home-phone")

    await phone.get_by_role("link", name="Next page").click()
    await expect(results).to_have_count(3)
    await expect(results.last).to_contain_text(f"{word} 0")
    await expect(phone.get_by_role("link", name="Next page")).to_have_count(0)
    await phone.get_by_role("link", name="Previous").click()
    await expect(results).to_have_count(50)
    await expect(results.first).to_contain_text(unbroken)
