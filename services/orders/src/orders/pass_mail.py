"""The buyer's email when an order completes: its passes, in text and HTML, the PDF of them
attached, and a link to the order. Queued in the transaction that completes the order, made
when the mail relay sends it (tixcommon.mail), from what orders has then."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from bson import ObjectId

from orders.models import Order
from orders.pass_images import starts_at_text
from orders.passes import PassBook
from orders.repository import OrderRepository

ORDER_COMPLETE = "order-complete"


def mail_key(order: Order) -> str:
    """One mail per completed order, however often its completion is handled."""
    return f"{ORDER_COMPLETE}:{order.id}"


@dataclass
class PassMail:
    orders: OrderRepository
    book: PassBook
    public_url: str

    async def render(self, to: str, params: Mapping[str, Any]) -> EmailMessage:
        """The message for `params["orderId"]`; LookupError while orders cannot make it yet
        (the relay retries it, as it does any failure)."""
        order = await self.orders.get(ObjectId(str(params["orderId"])))
        if order is None:
            raise LookupError(f"no order {params['orderId']} to mail")
        issued = (await self.book.of_orders([order]))[str(order.id)]
        if not issued:
            raise LookupError(f"order {order.id} has no passes to mail")
        ticket = await self.book.tickets.get(ObjectId(order.ticket.id))
        document = await self.book.pdf(order, issued)
        link = f"{self.public_url}/orders/{order.id}"
        when = starts_at_text(ticket.starts_at) if ticket and ticket.starts_at else None
        where = ticket.venue if ticket else None
        seats = "1 seat" if order.quantity == 1 else f"{order.quantity} seats"

        message = EmailMessage()
        message["Subject"] = f"Your passes for {order.ticket.title}"
        details = [f"{order.ticket.title}, {seats}"] + [
            line for line in (where, when) if line is not None
        ]
        message.set_content(
            "\n".join(
                [
                    "Thank you for your order.",
                    "",
                    *details,
                    "",
                    "Your passes are attached (one page a seat): show each at the door, on your",
                    "phone or printed. Each QR code lets one person in, once.",
                    "",
                    f"Your order: {link}",
                ]
            )
            + "\n"
        )
        detail_items = "".join(f"<li>{html.escape(line)}</li>" for line in details)
        message.add_alternative(
            "<!doctype html><html><body>"
            "<p>Thank you for your order.</p>"
            f"<ul>{detail_items}</ul>"
            "<p>Your passes are attached (one page a seat): show each at the door, on your "
            "phone or printed. Each QR code lets one person in, once.</p>"
            f'<p><a href="{html.escape(link, quote=True)}">See your order</a></p>'
            "</body></html>",
            subtype="html",
        )
        message.add_attachment(
            document,
            maintype="application",
            subtype="pdf",
            filename=f"tixvibe-passes-{order.id}.pdf",
        )
        return message
