"""The buyer's email of a complete order, as the mail relay will have it made: text and HTML
parts, a link to the order, and the PDF of its passes attached."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pypdfium2
import pytest
import zxingcpp

from orders.pass_mail import PassMail
from orders.passes import PassBook
from orders.repository import OrderRepository, PassRepository, TicketReplicaRepository
from orders.settings import OrdersSettings
from tixcommon.settings import load_settings
from tixtest import SignedInUser

ListTicket = Callable[..., Awaitable[dict[str, Any]]]
Paid = Callable[..., Awaitable[dict[str, Any]]]


def mail() -> PassMail:
    tickets = TicketReplicaRepository()
    keys = load_settings(OrdersSettings).pass_keys()
    return PassMail(
        OrderRepository(), PassBook(keys, PassRepository(), tickets), "https://tixvibe.test"
    )


async def test_the_mail_of_a_complete_order_holds_its_passes_and_a_link_to_it(
    client: httpx.AsyncClient, buyer: SignedInUser, list_ticket: ListTicket, paid: Paid
) -> None:
    ticket = await list_ticket("Jazz <night> & co", 25, quantity=4, venue="Blue Note")
    order = await paid(buyer, ticket, quantity=2)

    message = await mail().render(buyer.email, {"orderId": order["id"]})

    assert message["Subject"] == "Your passes for Jazz <night> & co"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    link = f"https://tixvibe.test/orders/{order['id']}"
    assert link in text.get_content()
    assert "Blue Note" in text.get_content()
    assert f'href="{link}"' in html.get_content()
    assert "Jazz &lt;night&gt; &amp; co" in html.get_content()  # escaped, never markup
    (attachment,) = message.iter_attachments()
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"tixvibe-passes-{order['id']}.pdf"
    document = pypdfium2.PdfDocument(attachment.get_content())
    codes = [
        [found.text for found in zxingcpp.read_barcodes(page.render(scale=3).to_pil())]
        for page in document
    ]
    assert codes == [[one["code"]] for one in order["passes"]]


async def test_an_order_not_complete_is_not_mailed_yet(
    client: httpx.AsyncClient, buyer: SignedInUser, list_ticket: ListTicket
) -> None:
    ticket = await list_ticket()
    placed = await client.post(
        "/api/orders", json={"ticketId": ticket["id"]}, headers=buyer.headers
    )

    # The relay retries any failure: a mail that cannot be made yet is not lost.
    with pytest.raises(LookupError):
        await mail().render(buyer.email, {"orderId": placed.json()["id"]})
    with pytest.raises(LookupError):
        await mail().render(buyer.email, {"orderId": "f" * 24})
