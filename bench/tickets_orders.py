"""Tickets and orders under load: contention and event propagation.

Prints: orders placed per second while 100 buyers race for each one-seat ticket and 1,000 for
the 100 seats of one listing, the time for a race to settle (exactly one winner, exactly 100
seats sold, required), and p50/p99 of "POST /api/tickets returned" to "the orders service
accepts an order for it" (outbox -> JetStream -> orders' replica).

    .venv/bin/python -m bench.tickets_orders [--rounds 10] [--buyers 100] [--tickets 200]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from functools import partial
from pathlib import Path
from typing import Any

from bson import ObjectId
from pymongo import AsyncMongoClient

from bench.rawhttp import Connection
from bench.report import Figure, p50, p99, table
from bench.stack import Stack, running_services
from tixcommon.auth import SessionCodec
from tixtest import wait_until


def cookie(codec: SessionCodec) -> dict[str, str]:
    user = uuid.uuid4().hex[:24]
    return {"Cookie": f"session={codec.issue(user, f'{user}@bench.test')}"}


async def list_ticket(conn: Connection, seller: dict[str, str], seats: int = 1) -> str:
    body = {"title": "bench", "price": 10, "quantity": seats}
    reply = await conn.request("POST", "/api/tickets", body, seller)
    assert reply.status == 201, reply.body
    ticket_id = reply.json()["id"]  # type: ignore[index]
    return str(ticket_id)


async def contention(stack: Stack, rounds: int, buyers: int, seats: int = 1) -> list[Figure]:
    """`buyers` race, one seat each, for a listing of `seats`: exactly `seats` orders must win,
    every other buyer must be told no (never a 5xx), and the owner must end up agreeing that
    every seat is held. Settled: every buyer answered; agreed: tickets shows none left."""
    seller = cookie(stack.codec)
    tickets_conn = Connection("127.0.0.1", stack.ports["tickets"])
    buyer_conns = [Connection("127.0.0.1", stack.ports["orders"]) for _ in range(buyers)]
    buyer_cookies = [cookie(stack.codec) for _ in range(buyers)]
    database = AsyncMongoClient[Any](stack.mongo_url)
    replicas = database["orders"]["tickets"]
    owned = database["tickets"]["tickets"]
    settle_times, agree_times = [], []
    for _ in range(rounds):
        ticket_id = await list_ticket(tickets_conn, seller, seats)
        query = {"_id": ObjectId(ticket_id)}
        await wait_until(partial(replicas.find_one, query), message="replicated")
        started = time.perf_counter()
        replies = await asyncio.gather(
            *(
                conn.request("POST", "/api/orders", {"ticketId": ticket_id}, who)
                for conn, who in zip(buyer_conns, buyer_cookies, strict=True)
            )
        )
        settle_times.append(time.perf_counter() - started)
        statuses = [reply.status for reply in replies]
        winners = statuses.count(201)
        assert winners == seats, f"{winners} orders won {seats} seats"
        assert statuses.count(400) == buyers - seats, sorted(set(statuses))

        async def all_held(query: dict[str, Any] = query) -> bool:
            ticket = await owned.find_one(query)
            return ticket is not None and ticket.get("held", 0) == seats

        await wait_until(all_held, timeout=60, message="tickets counted every seat")
        agree_times.append(time.perf_counter() - started)
    for conn in (tickets_conn, *buyer_conns):
        await conn.close()
    await database.close()
    busy = sum(settle_times)
    if seats == 1:
        race = f"{buyers} buyers race for one ticket ({rounds} rounds)"
        outcome = Figure(f"{race}: winners per round (always 1)", winners, "")
    else:
        race = f"{buyers} buyers race for {seats} seats of one listing ({rounds} rounds)"
        outcome = Figure(f"{race}: seats sold per round (always {seats})", winners, "")
    return [
        outcome,
        Figure(f"{race}: order requests/s", rounds * buyers / busy, "/s", higher_is_better=True),
        Figure(f"{race}: settle time p50", p50(settle_times) * 1000, "ms"),
        Figure(f"{race}: settle time max", max(settle_times) * 1000, "ms"),
        Figure(f"{race}: tickets agrees, p50", p50(agree_times) * 1000, "ms"),
    ]


async def propagation(stack: Stack, count: int) -> list[float]:
    """Seconds from "POST /api/tickets returned" to "orders accepts an order for it"."""
    seller, buyer = cookie(stack.codec), cookie(stack.codec)
    tickets_conn = Connection("127.0.0.1", stack.ports["tickets"])
    orders_conn = Connection("127.0.0.1", stack.ports["orders"])
    latencies = []
    for _ in range(count):
        ticket_id = await list_ticket(tickets_conn, seller)
        listed = time.perf_counter()
        while True:
            # Up to the request that found it orderable being sent (placing the order is not
            # part of the hop): within one polling request of when the replica appeared.
            asked = time.perf_counter()
            reply = await orders_conn.request("POST", "/api/orders", {"ticketId": ticket_id}, buyer)
            if reply.status == 201:
                break
            assert reply.status == 404, reply.body
        latencies.append(asked - listed)
    await tickets_conn.close()
    await orders_conn.close()
    return latencies


async def main(args: argparse.Namespace) -> None:
    with (
        tempfile.TemporaryDirectory() as logs,
        running_services("tickets", "orders", log_dir=Path(logs)) as stack,
    ):
        listed = await propagation(stack, args.tickets)
        figures = [
            Figure("ticket listed -> orderable in orders, p50", p50(listed) * 1000, "ms"),
            Figure("ticket listed -> orderable in orders, p99", p99(listed) * 1000, "ms"),
            *await contention(stack, args.rounds, args.buyers),
            *await contention(stack, args.rounds, args.seat_buyers, args.seats),
        ]
    print(table(figures))  # noqa: T201


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--buyers", type=int, default=100)
    parser.add_argument("--tickets", type=int, default=200)
    parser.add_argument("--seats", type=int, default=100)
    parser.add_argument("--seat-buyers", type=int, default=1000)
    asyncio.run(main(parser.parse_args()))
