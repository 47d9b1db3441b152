"""The buyer's email of a complete order: text and HTML parts, a link to the order, the PDF of
its passes attached; sent once, through redeliveries and a mail server that is down."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from bson import ObjectId

from orders.models import Order
from orders.pass_mail import PassMail
from orders.passes import PassBook
from orders.repository import OrderRepository, PassRepository, TicketReplicaRepository
from orders.settings import OrdersSettings
from tixcommon.bus import EventBus, Publisher
from tixcommon.events import PaymentCreated
from tixcommon.mail import MAIL_COLLECTION
from tixcommon.settings import load_settings
from tixtest import SignedInUser, SmtpServer, consumers_idle, wait_until
from tixtest.scanning import pdf_pages

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
    codes = [page.codes for page in pdf_pages(attachment.get_content())]
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


async def test_a_completed_order_is_mailed_to_its_buyer_once_through_redeliveries(
    client: httpx.AsyncClient,
    buyer: SignedInUser,
    list_ticket: ListTicket,
    paid: Paid,
    publish: Publisher,
    bus: EventBus,
    smtp_server: SmtpServer,
) -> None:
    order = await paid(buyer, await list_ticket(quantity=3), quantity=2)
    await publish.publish(
        PaymentCreated(id=str(ObjectId()), order_id=order["id"], stripe_id="pi_again")
    )
    await wait_until(
        lambda: consumers_idle(bus, "orders-payment-created"), message="redelivery handled"
    )

    (message,) = await wait_until(smtp_server.messages, message="the buyer's mail")
    assert message["To"] == buyer.email
    assert message["From"] == "TixVibe <tickets@tixvibe.test>"
    assert message["Subject"] == "Your passes for Concert"
    await wait_until(lambda: _mail_sent(order["id"]), message="marked sent")
    assert len(smtp_server.messages()) == 1


async def test_a_mail_server_that_is_down_delays_the_mail_and_loses_none(
    client: httpx.AsyncClient,
    make_user: Callable[..., SignedInUser],
    list_ticket: ListTicket,
    paid: Paid,
    smtp_server: SmtpServer,
) -> None:
    smtp_server.stop()
    buyers = [make_user() for _ in range(3)]
    ticket = await list_ticket(quantity=3)
    orders = [await paid(one, ticket) for one in buyers]
    await wait_until(lambda: _attempted(orders[0]["id"]), message="a failed attempt")

    smtp_server.start()

    received = await wait_until(
        lambda: (found := smtp_server.messages()) and len(found) == 3 and found,
        message="every buyer's mail",
    )
    assert sorted(m["To"] for m in received) == sorted(one.email for one in buyers)


async def _mail_sent(order_id: str) -> bool:
    found = (
        await Order.get_pymongo_collection()
        .database[MAIL_COLLECTION]
        .find_one({"key": f"order-complete:{order_id}"})
    )
    return found is not None and found["status"] == "sent"


async def _attempted(order_id: str) -> bool:
    found = (
        await Order.get_pymongo_collection()
        .database[MAIL_COLLECTION]
        .find_one({"key": f"order-complete:{order_id}"})
    )
    return found is not None and found["attempts"] >= 1 and found["status"] == "queued"
