"""The on-sale's pages, through the gateway with the whole platform running, as a browser
without JavaScript sees them: a listing on sale later, joining its waiting room, waiting on a
page that refreshes itself, buying when admitted."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from client_support import Visitor

from tixtest.stack import eventually
from webclient.rendering import wait
from webclient.schemas import TicketForm

MakeVisitor = Callable[[], Visitor]
TURN = "It's your turn: you can buy now"


def sale_open(on_sale_at: datetime) -> bool:
    return datetime.now(UTC) >= on_sale_at


def joined(buyer: Visitor, ticket_id: str) -> str:
    """Join the room (the room hears of a new listing a moment after it is listed): the page
    the join leads to."""

    def attempt() -> str | None:
        response = buyer.join_queue(ticket_id)
        if response.status_code != 303:
            assert "not ready yet" in response.text, response.text
            return None
        return str(response.headers["location"])

    location: str = eventually(attempt, 10, "joined the queue")
    assert location == f"/tickets/{ticket_id}/queue"
    return location


def test_a_listing_on_sale_later_shows_when_and_offers_the_queue_not_the_purchase(
    visitors: MakeVisitor,
) -> None:
    seller, title = visitors().sign_up(), f"Arena tour {uuid.uuid4().hex[:6]}"
    listed = seller.submit(
        "/tickets/new",
        {
            "title": title, "price": "60", "quantity": "100", "startsAt": "2099-03-14T19:30",
            "onSaleAt": "2099-03-01T10:00", "perBuyerLimit": "4",
        },
    )  # fmt: skip
    assert listed.status_code == 303, listed.text
    ticket_id = listed.headers["location"].split("/")[2].split("?")[0]

    buyer = visitors().sign_up().get(f"/tickets/{ticket_id}").text
    anonymous = visitors().get(f"/tickets/{ticket_id}").text
    own = seller.get(f"/tickets/{ticket_id}").text
    card = visitors().get(f"/?q={title.split()[-1]}").text
    edit = seller.get(f"/tickets/{ticket_id}/edit").text

    for page in (buyer, anonymous, own, card):
        assert "On sale <time datetime=" in page
        assert "Sun 01 Mar 2099, 10:00 UTC" in page
    assert f'action="/tickets/{ticket_id}/queue"' in buyer
    assert (
        '<altcha-widget name="altcha" auto="onsubmit" challengeurl="/api/waitingroom/challenge"'
        in buyer
    )
    assert "/static/altcha/altcha.js?v=" in buyer
    assert "each buyer may have at most 4 seats" in buyer
    assert f'action="/tickets/{ticket_id}/purchase"' not in buyer
    assert f'href="/auth/signin?next=/tickets/{ticket_id}/queue">Sign in to join the queue' in (
        anonymous
    )
    assert "<altcha-widget" not in anonymous
    assert "buy your own ticket" in own
    assert "<altcha-widget" not in own
    assert 'id="onSaleAt" name="onSaleAt" type="datetime-local" value="2099-03-01T10:00"' in edit
    assert 'id="perBuyerLimit" name="perBuyerLimit" type="number" value="4"' in edit


def test_the_sell_and_edit_forms_show_the_on_sales_errors_next_to_their_fields(
    visitors: MakeVisitor,
) -> None:
    seller = visitors().sign_up()

    past = seller.submit(
        "/tickets/new",
        {
            "title": "Early bird",
            "price": "5",
            "onSaleAt": "2001-01-01T10:00",
            "perBuyerLimit": "11",
        },
    )
    after_start = seller.submit(
        "/tickets/new",
        {
            "title": "Late bird", "price": "5", "startsAt": "2099-03-14T19:30",
            "onSaleAt": "2099-03-15T10:00", "perBuyerLimit": "2",
        },
    )  # fmt: skip

    assert past.status_code == 400
    assert 'id="onSaleAt-error">On-sale time must be in the future' in past.text
    assert 'id="perBuyerLimit-error">perBuyerLimit must be a whole number from 1 to 10' in past.text
    assert 'value="2001-01-01T10:00"' in past.text  # what was typed is kept
    assert 'value="11"' in past.text
    assert after_start.status_code == 400
    assert 'id="onSaleAt-error">On-sale time must be before the start time' in after_start.text


def test_joining_needs_the_proof_of_work_and_an_open_room(visitors: MakeVisitor) -> None:
    seller = visitors().sign_up()
    later_id, _ = seller.list_on_sale("Next season", opens_in=2 * 86_400)
    plain_id = seller.list_ticket("No queue here")
    buyer = visitors().sign_up()
    queue = f"/tickets/{later_id}/queue"

    not_in_room = buyer.get(queue)
    forged = buyer.submit(queue, {"altcha": "bm90IGEgc29sdXRpb24="}, from_page=queue)
    too_early = eventually(
        lambda: (page := buyer.join_queue(later_id)).status_code == 400 and page, 10, "refused"
    )
    no_place = buyer.submit(f"{queue}/purchase", {"quantity": "1"}, from_page=queue)

    assert not_in_room.status_code == 200
    assert "<h2>Join the queue</h2>" in not_in_room.text
    assert f'action="{queue}"' in not_in_room.text
    assert forged.status_code == 400
    assert '<p class="error" id="altcha-error">Proof of work is invalid</p>' in forged.text
    assert "Waiting room is not open yet" in too_early.text  # it opens 30 minutes before
    assert f'action="{queue}"' in too_early.text  # to try again later
    assert (no_place.status_code, no_place.headers["location"]) == (303, queue)
    assert buyer.get(f"/tickets/{plain_id}/queue").headers["location"] == f"/tickets/{plain_id}"
    assert visitors().get(queue).headers["location"] == f"/auth/signin?next={queue}"


def test_an_early_joiner_waits_for_the_draw_then_buys_within_the_limit_with_the_admission(
    visitors: MakeVisitor,
) -> None:
    seller = visitors().sign_up()
    ticket_id, on_sale_at = seller.list_on_sale("Stadium night", opens_in=3, seats=5, limit=2)
    buyer = visitors().sign_up()
    queue = f"/tickets/{ticket_id}/queue"

    early_purchase = buyer.submit(f"/tickets/{ticket_id}/purchase", {}, from_page="/")
    waiting = buyer.get(joined(buyer, ticket_id)).text
    refresh = re.search(
        r'<noscript><meta http-equiv="refresh" content="(\d+)"></noscript>', waiting
    )
    admitted = eventually(lambda: TURN in (page := buyer.get(queue).text) and page, 15, "admitted")
    without_admission = (
        visitors().sign_up().submit(f"/tickets/{ticket_id}/purchase", {}, from_page="/")
    )
    over_limit = buyer.submit(f"{queue}/purchase", {"quantity": "3"}, from_page=queue)
    bought = buyer.submit(f"{queue}/purchase", {"quantity": "2"}, from_page=queue)

    assert early_purchase.status_code == 400
    assert "Sales have not started" in early_purchase.text
    assert "The draw is at <time datetime=" in waiting
    assert "everyone who joins before then gets a random place" in waiting
    assert refresh  # the page reloads itself without JS, as often as the room says
    assert 1 <= int(refresh.group(1)) <= 30
    assert f'data-place-url="/api/waitingroom/{ticket_id}"' in waiting
    assert sale_open(on_sale_at)
    assert "left to buy" in admitted
    assert f'action="{queue}/purchase"' in admitted
    assert re.findall(r'<option value="(\d+)">', admitted) == ["1", "2"]  # the limit, not 5
    assert "At most 2 seats per buyer." in admitted
    assert 'http-equiv="refresh"' not in admitted  # nothing reloads the form being filled in
    assert without_admission.status_code == 403
    assert "Join the waiting room first" in without_admission.text
    assert over_limit.status_code == 400
    assert "At most 2 seats per buyer" in over_limit.text
    assert bought.status_code == 303
    order = buyer.get(bought.headers["location"]).text
    assert "2 seats at $20.00" in order
    assert "left to pay" in order
    edit = seller.get(f"/tickets/{ticket_id}/edit").text
    shown = re.search(r'name="onSaleAt" type="datetime-local" value="([^"]+)"', edit)
    assert shown  # the sale's start, now past, as the edit form shows it
    edited = seller.submit(
        f"/tickets/{ticket_id}/edit",
        {"title": "Stadium night", "price": "25", "quantity": "5", "onSaleAt": shown.group(1),
         "perBuyerLimit": "2"},
    )  # fmt: skip
    assert (edited.status_code, edited.headers["location"]) == (303, f"/tickets/{ticket_id}")
    ended = eventually(lambda: "Join again" in (p := buyer.get(queue).text) and p, 15, "ended")
    assert "Your turn has ended. You have 2 seats of this listing" in ended
    assert "lapsed" not in ended  # it was used


def test_an_edit_sends_the_on_sale_time_only_when_the_seller_changed_it() -> None:
    stored = TicketForm(
        title="Gala", price="10", on_sale_at="2030-03-01T10:00", per_buyer_limit="4"
    )

    kept = stored.model_copy(update={"price": "12"}).body(stored=stored)
    moved = stored.model_copy(update={"on_sale_at": "2030-03-02T09:30"}).body(stored=stored)
    cleared = stored.model_copy(update={"on_sale_at": "", "per_buyer_limit": ""}).body(
        stored=stored
    )
    new = stored.body()

    assert "onSaleAt" not in kept  # as stored, to the second, even once it is past
    assert kept["perBuyerLimit"] == "4"
    assert moved["onSaleAt"] == "2030-03-02T09:30:00Z"
    assert (cleared["onSaleAt"], cleared["perBuyerLimit"]) == (None, None)
    assert (new["onSaleAt"], new["perBuyerLimit"]) == ("2030-03-01T10:00:00Z", "4")


def test_the_estimated_wait_is_worded_as_roughly_as_it_is_known() -> None:
    assert [wait(s) for s in (0, 45, 60, 61, 3540, 3600, 3660, 7260)] == [
        "any moment now", "less than a minute", "about 1 min", "about 2 min", "about 59 min",
        "about 1 h", "about 1 h 1 min", "about 2 h 1 min",
    ]  # fmt: skip
