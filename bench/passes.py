"""The door and the passes: check-ins per second and the CPU of each (orders and its database)
beside one conditional write served the least way (bench/floor_app.py), and the time to draw
an order's PDF of passes, per seat.

Passes come from real purchases: orders of ten seats placed through orders and completed by
`payment.created` events, as payments would send them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bson import ObjectId
from pymongo import AsyncMongoClient

from bench.load import latencies, load
from bench.rawhttp import Connection
from bench.report import Figure, cpu_figure, p50, rate_figure
from bench.stack import RunningService, Stack
from bench.tickets_orders import cookie, list_ticket
from tixcommon.bus import EventBus, Publisher
from tixcommon.events import PaymentCreated
from tixtest import wait_until

SEATS_PER_ORDER = 10
FLOOR_NAME = "one conditional write"


async def sold_passes(stack: Stack, orders_count: int) -> list[dict[str, Any]]:
    """`orders_count` orders of ten seats of one listing, paid for: their passes."""
    seller = cookie(stack.codec)
    tickets = Connection("127.0.0.1", stack.ports["tickets"])
    ticket_id = await list_ticket(tickets, seller, orders_count * SEATS_PER_ORDER)
    await tickets.close()
    database = AsyncMongoClient[Any](stack.mongo_url)["orders"]
    await wait_until(
        lambda: database["tickets"].find_one({"_id": ObjectId(ticket_id)}), message="replicated"
    )
    connections = [Connection("127.0.0.1", stack.ports["orders"]) for _ in range(16)]
    placed: list[str] = []

    async def place(conn: Connection, buyers: list[dict[str, str]]) -> None:
        for buyer in buyers:
            body = {"ticketId": ticket_id, "quantity": SEATS_PER_ORDER}
            reply = await conn.request("POST", "/api/orders", body, buyer)
            assert reply.status == 201, reply.body
            placed.append(str(reply.json()["id"]))  # type: ignore[index]

    buyers = [cookie(stack.codec) for _ in range(orders_count)]
    await asyncio.gather(
        *(place(conn, buyers[i :: len(connections)]) for i, conn in enumerate(connections))
    )
    for conn in connections:
        await conn.close()
    bus = await EventBus.connect(stack.nats_url, client_name="bench-payments")
    publisher = Publisher(bus)
    for order_id in placed:
        await publisher.publish(
            PaymentCreated(id=str(ObjectId()), order_id=order_id, stripe_id="pi_bench")
        )
    await bus.close()
    expected = orders_count * SEATS_PER_ORDER

    async def issued() -> bool:
        return await database["passes"].count_documents({}) >= expected

    await wait_until(issued, timeout=300, message="every order complete with its passes")
    return [{"seller": seller, **found} async for found in database["passes"].find({})]


async def door_figures(stack: Stack, floor: RunningService, seconds: float) -> list[Figure]:
    # Enough passes for the run, each scanned once.
    passes = await sold_passes(stack, orders_count=400)
    seller = passes[0]["seller"]
    codes = iter(one["code"] for one in passes)

    def next_scan() -> dict[str, str]:
        code = next(codes, None)
        if code is None:
            raise RuntimeError("more check-ins than passes: sell more orders for the run")
        return {"code": code}

    measured = {"orders": stack.pids["orders"], "db": stack.database_pid}
    ours = await load(
        stack.ports["orders"], "/api/checkins", method="POST", bodies=next_scan, headers=seller,
        seconds=seconds, measure=measured,
    )  # fmt: skip
    # The floor's passes: as many, each valid until its one write.
    floor_passes = AsyncMongoClient[Any](stack.mongo_url)["floor"]["passes"]
    ids = [ObjectId() for _ in passes]
    await floor_passes.insert_many([{"_id": i, "status": "valid"} for i in ids])
    floor_ids = iter(str(i) for i in ids)
    bare = await load(
        floor.port, "/checkin", method="POST", bodies=lambda: {"id": next(floor_ids)},
        seconds=seconds, measure={"floor": floor.process.pid, "db": stack.database_pid},
    )  # fmt: skip
    return [
        rate_figure("POST /api/checkins, 16 scanners", ours, bare.rate, FLOOR_NAME),
        cpu_figure("POST /api/checkins", ours, bare, FLOOR_NAME),
        *await pdf_figures(stack, passes),
    ]


async def pdf_figures(stack: Stack, passes: list[dict[str, Any]]) -> list[Figure]:
    """GET /api/orders/{id}/passes.pdf of a ten-seat order, one request at a time: the time
    per seat (the document's fixed part, its fonts, spread over its ten pages)."""
    order_id = passes[0]["order_id"]
    order = await AsyncMongoClient[Any](stack.mongo_url)["orders"]["orders"].find_one(
        {"_id": ObjectId(order_id)}
    )
    assert order is not None
    buyer_id, email = order["user_id"], order["buyer_email"]
    headers = {"Cookie": f"session={stack.codec.issue(buyer_id, email)}"}
    path = f"/api/orders/{order_id}/passes.pdf"
    samples = await latencies(stack.ports["orders"], path, headers=headers, count=30)
    per_seat = p50(samples) * 1000 / SEATS_PER_ORDER
    return [Figure("GET /api/orders/{id}/passes.pdf, 10 seats: per seat, p50", per_seat, "ms")]
