"""Passes: one per seat of a complete order, in its body, as QR codes and a PDF for its buyer
only, with codes any scanner checks offline against the published keys."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from bson import ObjectId
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from PIL import Image

from tixcommon.bus import EventBus, Publisher
from tixcommon.events import PaymentCreated
from tixtest import SignedInUser, consumers_idle, wait_until
from tixtest.scanning import pdf_pages, qr_codes

ORDERS = "/api/orders"
ListTicket = Callable[..., Awaitable[dict[str, Any]]]
Paid = Callable[..., Awaitable[dict[str, Any]]]


def verified_offline(code: str, jwks: dict[str, Any]) -> bytes:
    """What a scanner does with no network: find the key the code names in the JWK set and
    check the signature over `<kid>.<payload>`. The payload's bytes."""
    kid, payload, signature = code.split(".")
    (jwk,) = [key for key in jwks["keys"] if key["kid"] == kid]
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("OKP", "Ed25519", "EdDSA")
    key = Ed25519PublicKey.from_public_bytes(unpadded(jwk["x"]))
    key.verify(unpadded(signature), f"{kid}.{payload}".encode())  # raises if forged
    return unpadded(payload)


def unpadded(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def test_a_complete_order_has_one_pass_per_seat_that_scanners_verify_offline(
    client: httpx.AsyncClient,
    paid: Paid,
    buyer: SignedInUser,
    list_ticket: ListTicket,
) -> None:
    ticket = await list_ticket("Opera", 30, quantity=5)

    order = await paid(buyer, ticket, quantity=3)

    passes = order["passes"]
    assert [one["seat"] for one in passes] == [1, 2, 3]
    assert {one["status"] for one in passes} == {"valid"}
    assert all("checkedInAt" not in one for one in passes)
    assert len({one["id"] for one in passes}) == 3
    jwks = (await client.get(f"{ORDERS}/passes/keys")).json()  # no session needed
    for one in passes:
        payload = verified_offline(one["code"], jwks)
        assert payload[1:13].hex() == one["id"]
        assert payload[13:25].hex() == ticket["id"]
        assert (payload[25], payload[26]) == (one["seat"], 3)
    listed = (await client.get(ORDERS, headers=buyer.headers)).json()
    assert listed == [order]


async def test_an_order_not_yet_paid_has_no_passes_and_no_pdf(
    client: httpx.AsyncClient, buyer: SignedInUser, list_ticket: ListTicket
) -> None:
    ticket = await list_ticket()
    placed = (
        await client.post(ORDERS, json={"ticketId": ticket["id"]}, headers=buyer.headers)
    ).json()

    assert "passes" not in placed
    assert (
        "passes" not in (await client.get(f"{ORDERS}/{placed['id']}", headers=buyer.headers)).json()
    )
    pdf = await client.get(f"{ORDERS}/{placed['id']}/passes.pdf", headers=buyer.headers)
    assert (pdf.status_code, pdf.json()) == (404, {"errors": [{"message": "Not Found"}]})


async def test_a_redelivered_payment_issues_no_second_set_of_passes(
    client: httpx.AsyncClient,
    paid: Paid,
    buyer: SignedInUser,
    list_ticket: ListTicket,
    publish: Publisher,
    bus: EventBus,
) -> None:
    ticket = await list_ticket(quantity=4)
    order = await paid(buyer, ticket, quantity=2)

    await publish.publish(
        PaymentCreated(id=str(ObjectId()), order_id=order["id"], stripe_id="pi_again")
    )
    await wait_until(
        lambda: consumers_idle(bus, "orders-payment-created"), message="redelivery handled"
    )

    again = (await client.get(f"{ORDERS}/{order['id']}", headers=buyer.headers)).json()
    assert again["passes"] == order["passes"]


async def test_the_qr_codes_hold_the_pass_codes_for_the_buyer_only(
    client: httpx.AsyncClient,
    paid: Paid,
    buyer: SignedInUser,
    make_user: Callable[..., SignedInUser],
    list_ticket: ListTicket,
) -> None:
    order = await paid(buyer, await list_ticket())
    (one,) = order["passes"]
    base = f"{ORDERS}/{order['id']}/passes/{one['id']}"

    png = await client.get(f"{base}.png", headers=buyer.headers)
    svg = await client.get(f"{base}.svg", headers=buyer.headers)

    assert (png.status_code, png.headers["content-type"]) == (200, "image/png")
    assert png.headers["cache-control"] == "private, no-store"
    assert qr_codes(Image.open(io.BytesIO(png.content))) == [one["code"]]
    assert (svg.status_code, svg.headers["content-type"]) == (200, "image/svg+xml")
    assert svg.content.lstrip().startswith(b"<?xml") or b"<svg" in svg.content[:200]
    stranger = make_user()
    for path in (f"{base}.png", f"{base}.svg", f"{ORDERS}/{order['id']}/passes.pdf"):
        refused = await client.get(path, headers=stranger.headers)
        assert (refused.status_code, refused.json()) == (
            401,
            {"errors": [{"message": "Not authorized"}]},
        )
        assert (await client.get(path)).status_code == 401
    unknown = await client.get(
        f"{ORDERS}/{order['id']}/passes/{'a' * 24}.png", headers=buyer.headers
    )
    assert unknown.status_code == 404
    malformed = await client.get(f"{ORDERS}/{order['id']}/passes/nope.png", headers=buyer.headers)
    assert (malformed.status_code, malformed.json()["errors"][0]["field"]) == (400, "passId")


async def test_the_pdf_has_a_page_per_pass_whose_qr_code_is_its_code(
    client: httpx.AsyncClient,
    paid: Paid,
    buyer: SignedInUser,
    list_ticket: ListTicket,
) -> None:
    ticket = await list_ticket("Jazz night", 25, quantity=4, venue="Blue Note")
    order = await paid(buyer, ticket, quantity=2)

    pdf = await client.get(f"{ORDERS}/{order['id']}/passes.pdf", headers=buyer.headers)

    assert (pdf.status_code, pdf.headers["content-type"]) == (200, "application/pdf")
    assert pdf.headers["content-disposition"].startswith("attachment;")
    pages = pdf_pages(pdf.content)
    assert len(pages) == 2
    for index, page in enumerate(pages):
        assert "Jazz night" in page.text
        assert "Blue Note" in page.text
        assert f"Seat {index + 1} of 2" in page.text
        assert buyer.email in page.text
        assert page.codes == [order["passes"][index]["code"]]


async def test_many_buyers_paying_at_once_each_get_their_own_passes(
    client: httpx.AsyncClient,
    paid: Paid,
    make_user: Callable[..., SignedInUser],
    list_ticket: ListTicket,
) -> None:
    ticket = await list_ticket(quantity=20)
    buyers = [make_user() for _ in range(5)]

    orders = await asyncio.gather(*(paid(one, ticket, quantity=2) for one in buyers))

    codes = [one["code"] for order in orders for one in order["passes"]]
    assert len(set(codes)) == 10
