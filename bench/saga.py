"""The reservation clock and the payment path under load.

Prints expiration lateness (the `expiration.complete` event's time in the stream minus the
order's `expiresAt`) over a few hundred orders due within the same second or two, and the time
from `POST /api/payments` returning to the order being `complete` in the orders service.

    .venv/bin/python -m bench.saga [--orders 500] [--payments 100]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bson import ObjectId

from bench.rawhttp import Connection
from bench.report import Figure, p50, p99, table
from bench.stack import Stack, running_services
from bench.tickets_orders import cookie, list_ticket
from tixcommon.bus import EventBus, Publisher
from tixcommon.events import OrderCreated, OrderStatus, TicketPrice
from tixtest import stream_messages, wait_until


async def expiration_lateness(stack: Stack, count: int, spread: float) -> list[float]:
    """Seconds each of `count` orders, due evenly over `spread` seconds, expired after its
    expiresAt."""
    bus = await EventBus.connect(stack.nats_url, client_name="bench")
    await bus.ensure_stream()
    publisher = Publisher(bus)
    already = await _expirations(bus)
    due = datetime.now(UTC) + timedelta(seconds=3)
    orders = [
        OrderCreated(
            id=str(ObjectId()),
            version=0,
            status=OrderStatus.CREATED,
            user_id="b" * 24,
            expires_at=due + timedelta(seconds=spread * n / count),
            ticket=TicketPrice(id=str(ObjectId()), price=10),
        )
        for n in range(count)
    ]
    for order in orders:
        await publisher.publish(order)
    expected = {order.id: order.expires_at for order in orders}

    await wait_until(
        lambda: _announced(bus, at_least=already + count), timeout=60 + spread,
        message="every order expired",
    )  # fmt: skip
    lateness = []
    for message in await stream_messages(bus, "expiration.complete"):
        order_id = message.data.decode().split('"')[3]
        if order_id in expected:
            lateness.append((message.metadata.timestamp - expected[order_id]).total_seconds())
    await bus.close()
    assert not [value for value in lateness if value < 0], "an order expired early"
    return lateness


async def _expirations(bus: EventBus) -> int:
    info = await bus.js.stream_info(bus.stream_name, subjects_filter="expiration.complete")
    return sum((info.state.subjects or {}).values())


async def _announced(bus: EventBus, at_least: int) -> bool:
    return await _expirations(bus) >= at_least


async def payment_to_complete(stack: Stack, count: int) -> list[float]:
    """Seconds from "POST /api/payments returned" to "orders shows the order complete"."""
    seller, buyer = cookie(stack.codec), cookie(stack.codec)
    tickets = Connection("127.0.0.1", stack.ports["tickets"])
    orders = Connection("127.0.0.1", stack.ports["orders"])
    payments = Connection("127.0.0.1", stack.ports["payments"])
    latencies = []
    for _ in range(count):
        ticket_id = await list_ticket(tickets, seller)
        while (
            reply := await orders.request("POST", "/api/orders", {"ticketId": ticket_id}, buyer)
        ).status == 404:
            pass
        order_id = reply.json()["id"]  # type: ignore[index]
        body = {"orderId": order_id, "token": "pm_card_visa"}
        while (reply := await payments.request("POST", "/api/payments", body, buyer)).status == 404:
            pass
        assert reply.status == 201, reply.body
        paid = time.perf_counter()
        while True:
            asked = time.perf_counter()  # as for a listed ticket: up to the look that saw it
            shown = await orders.request("GET", f"/api/orders/{order_id}", headers=buyer)
            if shown.json()["status"] == "complete":  # type: ignore[index]
                break
        latencies.append(asked - paid)
    for conn in (tickets, orders, payments):
        await conn.close()
    return latencies


def lateness_figures(lateness: list[float], due: str) -> list[Figure]:
    what = f"expiration lateness, {due}"
    return [
        Figure(f"{what}, p50", p50(lateness) * 1000, "ms"),
        Figure(f"{what}, p99", p99(lateness) * 1000, "ms"),
        Figure(f"{what}, max", max(lateness) * 1000, "ms"),
    ]


async def main(args: argparse.Namespace) -> None:
    # The clock alone first: the orders it expires here exist nowhere else.
    with (
        tempfile.TemporaryDirectory() as logs,
        running_services("expiration", "expiration.worker", log_dir=Path(logs)) as stack,
    ):
        lateness = await expiration_lateness(stack, args.orders, spread=1.0)
        figures = lateness_figures(lateness, f"{args.orders} orders due within 1 s")
    with (
        tempfile.TemporaryDirectory() as logs,
        running_services("tickets", "orders", "payments", log_dir=Path(logs)) as stack,
    ):
        paid = await payment_to_complete(stack, args.payments)
        figures += [
            Figure("payment returned -> order complete, p50", p50(paid) * 1000, "ms"),
            Figure("payment returned -> order complete, p99", p99(paid) * 1000, "ms"),
        ]
    print(table(figures))  # noqa: T201


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--payments", type=int, default=100)
    asyncio.run(main(parser.parse_args()))
