"""A complete order's passes and the seller's Scan page, through the gateway with the whole
platform running, as a browser without JavaScript sees them (the typed code's form)."""

from __future__ import annotations

import base64
import html
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from client_support import Visitor
from pass_support import list_seats, paid_order

from tixtest.stack import eventually
from webclient.passes import UnexpectedQrCode, inline_qr, read_payload

MakeVisitor = Callable[[], Visitor]
_RESULT = re.compile(r'<div id="scan-result" class="scan-result (ok|bad)"[^>]*>([^<]*)</div>')
_COUNT = re.compile(r'<dd data-count="(checkedIn|sold)">(\d+)</dd>')


def sold(visitors: MakeVisitor, seats: int) -> tuple[Visitor, Visitor, dict[str, Any]]:
    """A seller, a buyer, and the buyer's complete order of `seats` seats of a new listing."""
    seller, buyer = visitors().sign_up(), visitors().sign_up()
    ticket_id = list_seats(seller.http, f"Door test {uuid.uuid4().hex[:6]}", seats + 2)
    return seller, buyer, paid_order(buyer.http, ticket_id, seats)


def scan(seller: Visitor, ticket_id: str, code: str) -> tuple[int, str, str]:
    """Type a code into the Scan page's form: the status, and the answer's colour and words."""
    page = seller.submit(f"/tickets/{ticket_id}/scan", {"code": code})
    found = _RESULT.search(page.text)
    assert found, page.text
    return page.status_code, found.group(1), html.unescape(found.group(2))


def counts(page: str) -> dict[str, int]:
    return {name: int(value) for name, value in _COUNT.findall(page)}


def test_a_complete_orders_page_shows_each_pass_with_its_qr_code_seat_and_status(
    visitors: MakeVisitor,
) -> None:
    seller, buyer, order = sold(visitors, 2)

    page = buyer.get(f"/orders/{order['id']}")

    assert page.status_code == 200
    assert page.text.count('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 57 57"') == 2
    assert 'aria-label="QR code of seat 1"' in page.text
    assert "Seat 1 of 2" in page.text
    assert "Seat 2 of 2" in page.text
    assert page.text.count('<p class="badge valid">Valid</p>') == 2
    assert f'href="/orders/{order["id"]}/passes.pdf" download>Download passes (PDF)' in page.text
    for issued in order["passes"]:
        assert issued["code"] in page.text  # the code as text, for a door without a camera
    assert "<?xml" not in page.text
    assert "<title>Pass code" not in page.text

    first = order["passes"][0]
    assert scan(seller, order["ticket"]["id"], first["code"])[0] == 200
    page = buyer.get(f"/orders/{order['id']}")
    assert re.search(r"Checked in at \w{3} \d{2} \w{3} \d{4}, \d{2}:\d{2} UTC", page.text)
    assert page.text.count('<p class="badge valid">Valid</p>') == 1


def test_an_order_not_paid_shows_no_passes_and_has_no_pdf(visitors: MakeVisitor) -> None:
    seller, buyer = visitors().sign_up(), visitors().sign_up()
    ticket_id = list_seats(seller.http, f"Unpaid {uuid.uuid4().hex[:6]}", 2)

    def place() -> Any:
        response = buyer.http.post("/api/orders", json={"ticketId": ticket_id})
        return response.json() if response.status_code == 201 else None

    order = eventually(place, 10, "order placed")

    page = buyer.get(f"/orders/{order['id']}")
    assert page.status_code == 200
    assert "Download passes" not in page.text
    assert 'class="qr"' not in page.text
    assert buyer.get(f"/orders/{order['id']}/passes.pdf").status_code == 404


def test_the_passes_pdf_downloads_from_the_clients_pages_for_its_buyer_only(
    visitors: MakeVisitor,
) -> None:
    _, buyer, order = sold(visitors, 2)
    path = f"/orders/{order['id']}/passes.pdf"

    document = buyer.get(path)
    stranger = visitors().sign_up().get(path)
    signed_out = visitors().get(path)

    assert document.status_code == 200
    assert document.headers["content-type"] == "application/pdf"
    assert document.headers["content-disposition"] == (
        f'attachment; filename="tixvibe-passes-{order["id"]}.pdf"'
    )
    assert document.headers["cache-control"] == "private, no-store"
    assert document.content.startswith(b"%PDF-")
    assert (stranger.status_code, "That belongs to someone else." in stranger.text) == (403, True)
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == f"/auth/signin?next={path}"


def test_the_scan_pages_typed_code_checks_a_seat_in_once_and_keeps_the_counts(
    visitors: MakeVisitor,
) -> None:
    seller, _, order = sold(visitors, 3)
    ticket_id = order["ticket"]["id"]
    code = order["passes"][2]["code"]
    before = seller.get(f"/tickets/{ticket_id}/scan")
    assert before.status_code == 200
    assert counts(before.text) == {"checkedIn": 0, "sold": 3}
    assert 'id="scan-result" class="scan-result" role="status" aria-live="assertive" hidden' in (
        before.text
    )

    # Pasted as a scanner's software or a chat may hand it over: wrapped, with spaces around.
    first = scan(seller, ticket_id, f"  {code[:60]}\n{code[60:]} ")
    again = scan(seller, ticket_id, code)

    assert first == (200, "ok", "Seat 3 of 3 — checked in")
    assert again == (409, "bad", "Already checked in")
    assert counts(seller.get(f"/tickets/{ticket_id}/scan").text) == {"checkedIn": 1, "sold": 3}


def test_the_same_form_sent_twice_is_one_scan_with_one_answer(visitors: MakeVisitor) -> None:
    seller, _, order = sold(visitors, 1)
    ticket_id = order["ticket"]["id"]
    form = seller.get(f"/tickets/{ticket_id}/scan").text
    nonce = re.search(r'name="nonce" value="([^"]+)"', form)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert nonce
    assert token
    fields = {"csrf_token": token.group(1), "nonce": nonce.group(1)}

    sent = [
        seller.http.post(
            f"/tickets/{ticket_id}/scan", data={**fields, "code": order["passes"][0]["code"]}
        )
        for _ in range(2)
    ]

    assert [response.status_code for response in sent] == [200, 200]
    assert all("Seat 1 of 1 — checked in" in response.text for response in sent)


def test_a_code_that_is_not_a_pass_is_refused_in_red(visitors: MakeVisitor) -> None:
    seller, _, order = sold(visitors, 1)
    ticket_id = order["ticket"]["id"]
    code = order["passes"][0]["code"]
    forged = code[:-2] + ("AA" if not code.endswith("AA") else "BA")

    assert scan(seller, ticket_id, "hello") == (400, "bad", "Invalid ticket code")
    assert scan(seller, ticket_id, forged) == (400, "bad", "Invalid ticket code")
    assert counts(seller.get(f"/tickets/{ticket_id}/scan").text)["checkedIn"] == 0


def test_a_pass_of_the_sellers_other_listing_is_not_let_in_at_this_door(
    visitors: MakeVisitor,
) -> None:
    seller, buyer, order = sold(visitors, 1)
    other = list_seats(seller.http, f"Another night {uuid.uuid4().hex[:6]}", 2)
    tonight = paid_order(buyer.http, other, 1)

    answer = scan(seller, order["ticket"]["id"], tonight["passes"][0]["code"])

    assert answer == (400, "bad", "Not for this event")
    # Still valid for its own night.
    assert scan(seller, other, tonight["passes"][0]["code"])[:2] == (200, "ok")


def test_another_seller_gets_no_scan_page_and_checks_nothing_in(visitors: MakeVisitor) -> None:
    _seller, buyer, order = sold(visitors, 1)
    ticket_id = order["ticket"]["id"]
    rival = visitors().sign_up()
    list_seats(rival.http, "The rival's own show", 1)

    page = rival.get(f"/tickets/{ticket_id}/scan")
    posted = rival.submit(
        f"/tickets/{ticket_id}/scan", {"code": order["passes"][0]["code"]}, from_page="/"
    )

    assert (page.status_code, posted.status_code) == (403, 403)
    assert "Not your event" in page.text
    assert "Not your event" in posted.text
    passes = buyer.http.get(f"/api/orders/{order['id']}").json()["passes"]
    assert passes[0]["status"] == "valid"
    assert visitors().get(f"/tickets/{ticket_id}/scan").status_code == 303  # signed out


def test_the_seller_finds_the_scan_page_from_their_listings(visitors: MakeVisitor) -> None:
    seller, buyer = visitors().sign_up(), visitors().sign_up()
    ticket_id = list_seats(seller.http, f"Linked {uuid.uuid4().hex[:6]}", 2)
    link = f'href="/tickets/{ticket_id}/scan"'

    assert link in seller.get("/tickets/mine").text
    assert link in seller.get(f"/tickets/{ticket_id}").text
    assert link not in buyer.get(f"/tickets/{ticket_id}").text


def test_every_page_lets_only_our_own_pages_use_the_camera(visitors: MakeVisitor) -> None:
    page = visitors().get("/")

    assert page.headers["permissions-policy"] == "camera=(self), microphone=()"
    assert "script-src 'self' " in page.headers["content-security-policy"]


def test_a_qr_codes_svg_reaches_the_page_as_geometry_only() -> None:
    svg = (
        '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 57 57" '
        'onload="alert(1)"><title>Pass code</title><script>alert(2)</script>'
        '<path class="qrline" stroke="#000" d="M4 4.5h7m2 0h3" onclick="alert(3)"/></svg>'
    )

    drawn = inline_qr(svg, 'seat "1"')

    assert drawn == (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 57 57" class="qr" role="img" '
        'aria-label="seat &quot;1&quot;"><path d="M4 4.5h7m2 0h3" stroke="#000"/></svg>'
    )


@pytest.mark.parametrize(
    "unexpected",
    [
        "<html><body>not a QR code</body></html>",
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 57 57"></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 57 57"><path d="M0 0"'
        ' stroke="url(https://evil.example/)"/></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 57 57"><path d="M0 0"'
        ' stroke="#000"/><a href="https://evil.example/"><path d="M0 0 url(x)"/></a></svg>',
        "<svg",
    ],
)
def test_anything_but_a_qr_codes_svg_stays_out_of_the_page(unexpected: str) -> None:
    with pytest.raises(UnexpectedQrCode):
        inline_qr(unexpected, "seat 1")


def test_a_codes_payload_says_its_seat_and_seats() -> None:
    # kid . 1 | pass id | ticket id | seat 3 | of 4 . signature (not checked by the client)
    payload = bytes([1]) + bytes.fromhex("ab" * 12) + bytes.fromhex("cd" * 12) + bytes([3, 4])
    encoded = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()

    claims = read_payload(f"kidkidki.{encoded}.signature")

    assert claims is not None
    assert (claims.seat, claims.of) == (3, 4)
    assert read_payload("hello") is None
    assert read_payload("a.b.c") is None
    assert read_payload(f"k.{encoded[:-4]}.s") is None
