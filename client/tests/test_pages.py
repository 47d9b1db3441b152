"""Every page, served through the gateway with the whole platform running, as a browser without
JavaScript sees it."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from client_support import Visitor

from tixtest import free_port, serve_app
from tixtest.stack import RunningStack, eventually
from webclient.app import create_app
from webclient.pages.tickets import purchase_block
from webclient.schemas import CatalogueQuery, Ticket
from webclient.settings import ClientSettings

MakeVisitor = Callable[[], Visitor]


def order_ticket(buyer: Visitor, ticket_id: str) -> str:
    """Purchase from the ticket's page; returns the order id (the listing may take a moment
    to reach orders)."""

    def attempt() -> str | None:
        response = buyer.submit(f"/tickets/{ticket_id}/purchase", {}, from_page="/")
        if response.status_code != 303:
            return None
        return str(response.headers["location"].rsplit("/", 1)[1])

    order_id: str = eventually(attempt, 10, "order placed")
    return order_id


def test_home_lists_tickets_for_sale_with_their_price_and_link(visitors: MakeVisitor) -> None:
    seller = visitors().sign_up()
    ticket_id = seller.list_ticket("Opera gala, stalls", "120.5")

    page = visitors().get("/")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert f'href="/tickets/{ticket_id}">Opera gala, stalls</a>' in page.text
    assert "$120.50" in page.text
    assert "Sign in" in page.text
    assert "Sign out" not in page.text


def test_sign_up_shows_each_error_next_to_its_field_and_keeps_what_was_typed(
    visitors: MakeVisitor,
) -> None:
    visitor = visitors()

    page = visitor.submit("/auth/signup", {"email": "not-an-email", "password": "short"})

    assert page.status_code == 400
    assert 'value="not-an-email"' in page.text
    assert '<p class="error" id="email-error">Email must be valid</p>' in page.text
    assert 'id="password-error">Password must be between 8 and 128 characters' in page.text
    assert 'aria-invalid="true"' in page.text
    assert "session" not in page.cookies


def test_sign_up_signs_in_and_goes_home_with_the_users_menu(visitors: MakeVisitor) -> None:
    visitor = visitors()

    response = visitor.submit(
        "/auth/signup", {"email": visitor.email, "password": visitor.password, "next": "/"}
    )

    assert (response.status_code, response.headers["location"]) == (303, "/")
    cookie = response.headers["set-cookie"]
    assert "session=" in cookie
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    home = visitor.get("/").text
    for link in ("Sell a ticket", "My orders", "My tickets", "Sign out", visitor.email):
        assert link in home
    taken = visitors().submit("/auth/signup", {"email": visitor.email, "password": "whatever1"})
    assert 'id="email-error">Email in use' in taken.text


def test_sign_in_shows_invalid_credentials_and_returns_to_the_page_asked_for(
    visitors: MakeVisitor,
) -> None:
    account = visitors().sign_up()
    visitor = visitors()

    wrong = visitor.submit("/auth/signin", {"email": account.email, "password": "wrong-pass"})
    right = visitor.submit(
        "/auth/signin",
        {"email": account.email, "password": account.password, "next": "/tickets/mine"},
    )

    assert wrong.status_code == 400
    assert "Invalid credentials" in wrong.text
    assert f'value="{account.email}"' in wrong.text
    assert (right.status_code, right.headers["location"]) == (303, "/tickets/mine")


def test_sign_in_never_redirects_off_the_site(visitors: MakeVisitor) -> None:
    account = visitors().sign_up()
    visitor = visitors()

    response = visitor.submit(
        "/auth/signin",
        {"email": account.email, "password": account.password, "next": "//evil.example/x"},
    )

    assert response.headers["location"] == "/"


def test_sign_out_asks_then_clears_the_session(visitors: MakeVisitor) -> None:
    visitor = visitors().sign_up()

    confirm = visitor.get("/auth/signout")
    response = visitor.submit("/auth/signout", {}, from_page="/auth/signout")

    assert confirm.status_code == 200
    assert "You are signed in as" in confirm.text
    assert response.status_code == 303
    assert (
        "Max-Age=0" in response.headers["set-cookie"]
        or "expires" in response.headers["set-cookie"].lower()
    )
    assert "Sign out" not in visitor.get("/").text


def test_forms_without_the_callers_token_change_nothing(
    visitors: MakeVisitor, platform: RunningStack
) -> None:
    seller = visitors().sign_up()
    token = seller.csrf_token("/tickets/new")

    missing = seller.http.post("/tickets/new", data={"title": "Forged", "price": "5"})
    wrong = seller.http.post(
        "/tickets/new", data={"title": "Forged", "price": "5", "csrf_token": "x" * 43}
    )
    cross_site = seller.http.post(
        "/tickets/new",
        data={"title": "Forged", "price": "5", "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )

    for response in (missing, wrong, cross_site):
        assert response.status_code == 403
        assert "This form has expired" in response.text
    assert "Forged" not in seller.get("/tickets/mine").text


def test_pages_for_signed_in_users_send_others_to_sign_in(visitors: MakeVisitor) -> None:
    visitor = visitors()
    for path in ("/tickets/new", "/tickets/mine", "/orders", "/auth/account"):
        response = visitor.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == f"/auth/signin?next={path}"


def test_new_ticket_shows_validation_errors_then_lists_it(visitors: MakeVisitor) -> None:
    seller = visitors().sign_up()

    invalid = seller.submit("/tickets/new", {"title": "  ", "price": "-3"})
    listed = seller.submit("/tickets/new", {"title": "Jazz trio", "price": "40"})

    assert invalid.status_code == 400
    assert 'id="title-error">Title is required' in invalid.text
    assert 'id="price-error">Price must be greater than 0' in invalid.text
    assert 'value="-3"' in invalid.text
    assert listed.status_code == 303
    page = seller.get(listed.headers["location"])
    assert "Your ticket is listed" in page.text
    assert "Jazz trio" in page.text
    assert "buy your own ticket" in page.text
    assert "Edit this listing" in page.text


def test_a_listing_with_its_event_shows_when_and_where_on_its_card_and_page(
    visitors: MakeVisitor,
) -> None:
    seller = visitors().sign_up()
    title = "Supercalifragilisticexpialidocious" * 2

    invalid = seller.submit(
        "/tickets/new",
        {"title": title, "price": "0.001", "startsAt": "2001-01-01T20:00", "venue": "Hall"},
    )
    listed = seller.submit(
        "/tickets/new",
        {
            "title": title,
            "price": "25",
            "startsAt": "2099-03-14T19:30",
            "venue": "Royal Albert Hall",
            "description": "Doors at 7.\n<script>alert(1)</script>",
        },
    )

    assert invalid.status_code == 400
    assert 'id="price-error">Price must be in whole cents' in invalid.text
    assert 'id="startsAt-error">Start time must be in the future' in invalid.text
    assert 'value="Hall"' in invalid.text  # what was typed is kept
    page = seller.get(listed.headers["location"]).text
    home = visitors().get("/").text
    for shown in (page, home):
        assert "Sat 14 Mar 2099, 19:30 UTC" in shown
        assert "Royal Albert Hall" in shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    ticket_id = listed.headers["location"].split("/")[2].split("?")[0]
    edit = seller.get(f"/tickets/{ticket_id}/edit").text
    assert 'value="2099-03-14T19:30"' in edit
    cleared = seller.submit(
        f"/tickets/{ticket_id}/edit", {"title": "Renamed", "price": "25", "startsAt": ""}
    )
    assert cleared.status_code == 303
    after = seller.get(f"/tickets/{ticket_id}").text
    assert "UTC" not in after
    assert "Royal Albert Hall" not in after


def test_ticket_page_offers_purchase_to_others_and_sign_in_to_visitors(
    visitors: MakeVisitor,
) -> None:
    ticket_id = visitors().sign_up().list_ticket("Chamber music")

    anonymous = visitors().get(f"/tickets/{ticket_id}")
    buyer = visitors().sign_up().get(f"/tickets/{ticket_id}")

    assert f'href="/auth/signin?next=/tickets/{ticket_id}">Sign in to purchase' in anonymous.text
    assert f'action="/tickets/{ticket_id}/purchase"' in buyer.text
    assert "For sale" in buyer.text


def test_only_the_seller_can_edit_and_errors_are_shown(visitors: MakeVisitor) -> None:
    seller = visitors().sign_up()
    ticket_id = seller.list_ticket("Folk night", "30")
    other = visitors().sign_up()

    not_yours = other.get(f"/tickets/{ticket_id}/edit")
    forced = other.submit(
        f"/tickets/{ticket_id}/edit", {"title": "Mine now", "price": "1"}, from_page="/"
    )
    invalid = seller.submit(f"/tickets/{ticket_id}/edit", {"title": "Folk night", "price": "abc"})
    saved = seller.submit(f"/tickets/{ticket_id}/edit", {"title": "Folk night II", "price": "35"})

    assert not_yours.status_code == 403
    assert forced.status_code == 403
    assert 'id="price-error">Price must be a number' in invalid.text
    assert (saved.status_code, saved.headers["location"]) == (303, f"/tickets/{ticket_id}")
    page = seller.get(f"/tickets/{ticket_id}").text
    assert "Folk night II" in page
    assert "$35.00" in page


def test_purchase_opens_the_order_with_its_countdown_and_card_form(
    visitors: MakeVisitor, platform: RunningStack
) -> None:
    ticket_id = visitors().sign_up().list_ticket("Blues club", "18")
    buyer = visitors().sign_up()

    order_id = order_ticket(buyer, ticket_id)
    page = buyer.get(f"/orders/{order_id}")

    assert page.status_code == 200
    assert "Blues club" in page.text
    assert "left to pay" in page.text
    assert 'data-expires-at="' in page.text
    assert 'id="card-element"' in page.text
    assert "/js.stripe.com/v3/" in page.text  # the local Stripe-compatible server's Stripe.js
    assert "Pay $18.00" in page.text
    reserved = visitors().sign_up().get(f"/tickets/{ticket_id}")
    assert "Someone is buying this ticket right now" in reserved.text
    assert "disabled" in reserved.text
    orders = buyer.get("/orders").text
    assert f'href="/orders/{order_id}">Blues club' in orders
    assert "Awaiting payment" in orders
    assert "belongs to someone else" in visitors().sign_up().get(f"/orders/{order_id}").text


def test_a_reserved_ticket_cannot_be_bought_twice(visitors: MakeVisitor) -> None:
    ticket_id = visitors().sign_up().list_ticket("Last seat")
    order_ticket(visitors().sign_up(), ticket_id)
    late = visitors().sign_up()

    response = late.submit(f"/tickets/{ticket_id}/purchase", {}, from_page="/")

    assert response.status_code == 400
    assert "Ticket is already reserved" in response.text


def test_cancelling_an_order_frees_the_ticket(visitors: MakeVisitor) -> None:
    seller = visitors().sign_up()
    ticket_id = seller.list_ticket("Poetry slam")
    buyer = visitors().sign_up()
    order_id = order_ticket(buyer, ticket_id)

    response = buyer.submit(f"/orders/{order_id}/cancel", {}, from_page=f"/orders/{order_id}")

    assert (response.status_code, response.headers["location"]) == (303, f"/orders/{order_id}")
    assert "This order was cancelled" in buyer.get(f"/orders/{order_id}").text
    eventually(lambda: "For sale" in seller.get("/tickets/mine").text, 10, "for sale again")


def test_my_tickets_shows_each_listing_with_its_state(visitors: MakeVisitor) -> None:
    seller = visitors().sign_up()
    free_id = seller.list_ticket("Free one")
    held_id = seller.list_ticket("Held one")
    order_ticket(visitors().sign_up(), held_id)

    def states() -> bool:
        page = seller.get("/tickets/mine").text
        return "For sale" in page and "Reserved" in page

    eventually(states, 10, "reserved shown")
    page = seller.get("/tickets/mine").text
    assert f'href="/tickets/{free_id}"' in page
    assert f'href="/tickets/{held_id}"' in page


def test_unknown_pages_and_ids_get_a_friendly_404(visitors: MakeVisitor) -> None:
    visitor = visitors().sign_up()
    for path in ("/nowhere", f"/tickets/{'a' * 24}", "/tickets/not-an-id", f"/orders/{'b' * 24}"):
        page = visitor.get(path)
        assert page.status_code == 404, path
        assert "Page not found" in page.text
        assert "Traceback" not in page.text


def test_pages_are_not_cached_and_static_files_are_cached_for_good(visitors: MakeVisitor) -> None:
    visitor = visitors()
    page = visitor.get("/")
    css = next(part for part in page.text.split('"') if part.startswith("/static/app.css?v="))

    asset = visitor.get(css)

    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_one_visitors_session_never_reaches_another(visitors: MakeVisitor) -> None:
    signed_in = visitors().sign_up()
    assert signed_in.email in signed_in.get("/").text

    anonymous = visitors().get("/")

    assert signed_in.email not in anonymous.text
    assert "Sign in" in anonymous.text


def test_oversized_form_is_refused_with_a_page(visitors: MakeVisitor) -> None:
    visitor = visitors()
    token = visitor.csrf_token("/auth/signin")
    response = visitor.http.post(
        "/auth/signin", data={"csrf_token": token, "email": "x" * (2 * 1024 * 1024)}
    )
    assert response.status_code == 413
    assert "That's too big" in response.text or "too big" in response.text.lower()
    assert response.headers["content-type"].startswith("text/html")


def test_sign_in_rate_limit_is_shown_as_a_page(visitors: MakeVisitor) -> None:
    account = visitors().sign_up()
    visitor = visitors()
    statuses = [
        visitor.submit("/auth/signin", {"email": account.email, "password": "wrong-pass"})
        for _ in range(6)
    ]

    assert [r.status_code for r in statuses] == [400] * 5 + [429]
    assert "Too many attempts" in statuses[-1].text
    assert f'value="{account.email}"' in statuses[-1].text


async def test_backend_down_shows_a_page_not_a_trace() -> None:
    settings = ClientSettings(api_url=f"http://127.0.0.1:{free_port()}", environment="test")
    async with serve_app(create_app(settings)) as client:
        page = await client.get("/", headers={"cookie": "session=whatever"})
        signin = await client.get("/auth/signin")

    assert page.status_code == 503
    assert "not answering right now" in page.text
    assert "Traceback" not in page.text
    assert signin.status_code == 200  # pages that need no backend still work


def test_a_started_event_says_it_can_no_longer_be_bought() -> None:
    started = Ticket(
        id="a" * 24, title="Matinee", price=Decimal(10), user_id="b" * 24, version=0,
        starts_at=datetime.now(UTC) - timedelta(minutes=1),
    )  # fmt: skip
    later = started.model_copy(update={"starts_at": datetime.now(UTC) + timedelta(days=1)})

    assert purchase_block(started, None) == (
        "This event has started: the ticket can no longer be bought."
    )
    assert purchase_block(later, None) is None


def cards(page: str) -> list[str]:
    """The titles on a storefront page's cards, in order."""
    return re.findall(r'<h2><a href="/tickets/[0-9a-f]{24}">([^<]*)</a></h2>', page)


def list_by_api(seller: Visitor, title: str, price: str, days: int | None = None) -> None:
    body: dict[str, object] = {"title": title, "price": price}
    if days is not None:
        body["startsAt"] = (datetime.now(UTC) + timedelta(days=days)).isoformat()
    assert seller.http.post("/api/tickets", json=body).status_code == 201


def test_the_search_form_finds_filters_and_sorts_and_keeps_what_was_asked(
    visitors: MakeVisitor,
) -> None:
    seller, word = visitors().sign_up(), f"w{uuid.uuid4().hex[:8]}"
    list_by_api(seller, f"{word} cheap seat", "12", days=10)
    list_by_api(seller, f"{word} dear seat", "90", days=3)
    list_by_api(seller, f"{word} box", "40", days=40)
    list_by_api(seller, "Another show entirely", "15", days=10)
    url = f"/?q={word}+seat&minPrice=10&maxPrice=100&sort=price"

    found = visitors().get(url)
    soonest = visitors().get(f"/?q={word}&sort=startsAt").text
    dated = visitors().get(f"/?q={word}&from={(datetime.now(UTC) + timedelta(days=5)).date()}")

    assert found.status_code == 200
    assert cards(found.text) == [f"{word} cheap seat", f"{word} dear seat"]
    assert f'value="{word} seat"' in found.text  # the form shows what was asked
    assert 'value="10"' in found.text
    assert 'value="100"' in found.text
    assert '<option value="price" selected>' in found.text
    assert 'href="/">Clear filters</a>' in found.text
    assert cards(soonest) == [f"{word} dear seat", f"{word} cheap seat", f"{word} box"]
    assert cards(dated.text) == [f"{word} box", f"{word} cheap seat"]


def test_next_and_previous_pages_follow_the_apis_cursors(visitors: MakeVisitor) -> None:
    seller, word = visitors().sign_up(), f"p{uuid.uuid4().hex[:8]}"
    for n in range(53):
        list_by_api(seller, f"{word} {n:02d}", "20")
    visitor = visitors()

    first = visitor.get(f"/?q={word}").text
    next_url = html.unescape(re.findall(r'href="([^"]+)" rel="next"', first)[0])
    second = visitor.get(next_url).text
    previous_url = html.unescape(re.findall(r'href="([^"]+)" rel="prev"', second)[0])
    back = visitor.get(previous_url).text

    assert cards(first) == [f"{word} {n:02d}" for n in range(52, 2, -1)]  # 50, newest first
    assert 'rel="prev"' not in first
    assert cards(second) == [f"{word} 02", f"{word} 01", f"{word} 00"]
    assert 'rel="next"' not in second
    assert "First page" in second
    assert cards(back) == cards(first)
    assert f"q={word}" in next_url  # every page of results is a URL with its search


def test_an_empty_search_says_so_and_offers_to_clear_the_filters(visitors: MakeVisitor) -> None:
    page = visitors().get(f"/?q=nothing{uuid.uuid4().hex}")

    assert page.status_code == 200
    assert "No tickets match your search" in page.text
    assert 'class="button secondary" href="/">Clear filters</a>' in page.text


def test_bad_filters_and_cursors_are_shown_next_to_the_form(visitors: MakeVisitor) -> None:
    visitor = visitors()

    bad_price = visitor.get("/?minPrice=20&maxPrice=abc")
    reversed_range = visitor.get("/?minPrice=20&maxPrice=10")
    edited = visitor.get("/?cursor=not-a-cursor")

    assert bad_price.status_code == 400
    assert 'id="maxPrice-error">' in bad_price.text
    assert 'value="abc"' in bad_price.text  # kept as typed, to correct
    assert 'id="maxPrice-error">maxPrice must be at least minPrice' in reversed_range.text
    assert edited.status_code == 400
    assert "That page of results is out of date" in edited.text
    for page in (bad_price, reversed_range, edited):
        assert "Nothing to show" in page.text
        assert "Traceback" not in page.text


def test_previous_remembers_twenty_pages_then_offers_only_the_first() -> None:
    query = CatalogueQuery(q="jazz")
    urls = [query.first_url()]
    for n in range(25):
        urls.append(query.next_url(f"c{n}"))
        query = CatalogueQuery.model_validate(dict(httpx.URL(urls[-1]).params))

    def previous_of(url: str) -> str | None:
        return CatalogueQuery.model_validate(dict(httpx.URL(url).params)).previous_url()

    walked, url = 0, urls[-1]
    while (previous := previous_of(url)) is not None:
        walked, url = walked + 1, previous
        # Each Previous is the very page before (what it remembers further back may differ).
        assert httpx.URL(url).params.get("cursor") == httpx.URL(urls[-1 - walked]).params.get(
            "cursor"
        )

    assert previous_of(urls[0]) is None
    assert previous_of(urls[1]) == "/?q=jazz"
    assert walked == 20  # then only the first page is offered (its link is on every page)
    assert all(len(url) < 1_000 for url in urls)


def test_pages_and_the_api_answer_methods_as_rfc_9110_says_through_the_gateway(
    visitors: MakeVisitor,
) -> None:
    """405 names what is allowed, OPTIONS says it, HEAD is GET without the body: the pages'
    and the services' alike, as they reach a client through the router."""
    visitor = visitors()

    page_refused = visitor.http.request("DELETE", "/")
    api_refused = visitor.http.request("TRACE", "/api/users/currentuser")
    head = visitor.http.head("/")
    options = visitor.http.options("/api/tickets")

    assert (page_refused.status_code, page_refused.headers["allow"]) == (405, "GET, HEAD, OPTIONS")
    assert (api_refused.status_code, api_refused.headers["allow"]) == (405, "GET, HEAD, OPTIONS")
    assert api_refused.json() == {"errors": [{"message": "Method not allowed"}]}
    assert (head.status_code, head.content) == (200, b"")
    assert (options.status_code, options.headers["allow"]) == (204, "GET, HEAD, OPTIONS, POST")
