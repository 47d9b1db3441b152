"""Fault injection: the platform as `make dev` runs it, on real servers, while buyers keep buying
single tickets and seats of listings of several.

Every process is killed (-9) in turn, NATS, Redis and the database are restarted, the orders
service is cut off from NATS for a while, Stripe and the mail relay go away and come back, all
in the middle of a stream of purchases (pay, cancel or let lapse). Services must say they are
not ready while a dependency is away and recover by themselves; once the stream stops and the
last reservations lapse, nothing may be lost or doubled: every order complete or cancelled,
every seat sold to exactly one complete order or available (a one-seat ticket naming its
holder), every payment of its order's seats matched to one complete order (or refunded with its
cancelled one), no charge without a payment record, every replica at its owner's version, and
every complete order's buyer mailed its passes exactly once.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import stripe
from pymongo import MongoClient

from tixcommon.bus import EventBus
from tixcommon.mail import message_id
from tixdev.stack import register_local_webhook
from tixtest import (
    MongoServer,
    NatsServer,
    RedisServer,
    SmtpServer,
    StripeServer,
    TcpProxy,
    stream_messages,
)
from tixtest.stack import RunningStack, eventually, running_stack

PAY_WITHIN_SECONDS = 6
PROCESSES = ["auth", "tickets", "orders", "expiration", "exp-worker", "payments"]
RETRYABLE = (httpx.TransportError,)


@dataclass
class Infrastructure:
    mongo: MongoServer
    nats: NatsServer
    redis: RedisServer
    stripe: StripeServer
    orders_link: TcpProxy  # orders reaches NATS only through this
    smtp: SmtpServer  # the mail relay orders sends buyers' passes through


@pytest.fixture(scope="module")
def infrastructure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infrastructure]:
    root = tmp_path_factory.mktemp("faults")
    mongo = MongoServer(data_dir=root / "mongo")
    nats = NatsServer(data_dir=root / "nats")
    redis = RedisServer(data_dir=root / "redis", append_only=True)
    stripe_server = StripeServer(data_dir=root / "stripe")  # keeps its state across restarts
    servers = (mongo, nats, redis, stripe_server)
    for server in servers:
        server.start()
    link = TcpProxy(nats.port)
    link.restore()
    smtp = SmtpServer(root / "mail")
    smtp.start()
    try:
        yield Infrastructure(mongo, nats, redis, stripe_server, link, smtp)
    finally:
        smtp.stop()
        link.cut()
        for server in servers:
            server.close()


@pytest.fixture(scope="module")
def stack(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    data = tmp_path_factory.mktemp("faults-stack") / "data"
    webhook_secret = f"whsec_{secrets.token_hex(16)}"
    with running_stack(
        data,
        MONGO_URI=infrastructure.mongo.url,
        NATS_URL=infrastructure.nats.url,
        REDIS_URL=infrastructure.redis.url,
        STRIPE_API_BASE=infrastructure.stripe.url,
        STRIPE_WEBHOOK_SECRET=webhook_secret,
        EXPIRATION_WINDOW_SECONDS=str(PAY_WITHIN_SECONDS),
        TIX_RESTART_BACKOFF_SECONDS="0.2",
        TIX_ORDERS__NATS_URL=f"nats://127.0.0.1:{infrastructure.orders_link.port}",
        SMTP_HOST=infrastructure.smtp.host,
        SMTP_PORT=str(infrastructure.smtp.port),
        SMTP_STARTTLS="false",
        # A mail held by a killed orders is sent again well within the wait for the end, and its
        # "sent" is written through the database's outage (for half the lease); quick retries.
        TIX_ORDERS__SMTP_TIMEOUT_SECONDS="5",
        TIX_ORDERS__MAIL_LEASE_SECONDS="40",
        TIX_ORDERS__MAIL_RETRY_BASE_SECONDS="0.2",
        TIX_ORDERS__MAIL_RETRY_MAX_SECONDS="2",
        # Short waits between redeliveries and a short ack wait (after which an event held by a
        # killed service comes back), so recovery is quick to watch.
        LISTENER_RETRY_MAX_SECONDS="2",
        LISTENER_ACK_WAIT_SECONDS="6",
        # Claims abandoned mid-charge are settled within seconds, not minutes.
        TIX_PAYMENTS__STRIPE_TIMEOUT_SECONDS="2",
        TIX_PAYMENTS__PAYMENT_CLAIM_TIMEOUT_SECONDS="5",
        TIX_PAYMENTS__PAYMENT_SETTLE_SECONDS="0.5",
        LOG_LEVEL="WARNING",
    ) as running:
        # What `tix dev` does for a Stripe server it starts itself: send webhooks to payments.
        register_local_webhook(infrastructure.stripe.url, running.gateway, webhook_secret)
        yield running


@dataclass(eq=False)  # a Thread must stay hashable
class Shoppers(threading.Thread):
    """Buyers buying without pause: list, order, then pay, cancel or let it lapse."""

    stack: RunningStack
    seller: dict[str, str]
    buyers: list[dict[str, str]]
    # Held while a payment request is in flight (the test kills payments mid-charge).
    paying: threading.Lock = field(default_factory=threading.Lock)
    attempts: int = 0
    tickets: list[str] = field(default_factory=list)
    orders: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(daemon=True)
        self.rng = random.Random(7)
        self.http = httpx.Client(base_url=self.stack.gateway, timeout=10)

    def call(
        self, method: str, path: str, headers: dict[str, str], ok: Callable[[int], bool], **kw: Any
    ) -> httpx.Response | None:
        """Retry through faults (transport errors, 5xx, 404 while an event is on its way) for a
        while; None if it never worked. A 400 is an answer (a retry after a lost response is
        refused as a duplicate); being signed out never is."""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not self.stopping.is_set():
            try:
                response = self.http.request(method, path, headers=headers, **kw)
            except RETRYABLE:
                response = None
            if response is not None:
                if ok(response.status_code) or response.status_code == 400:
                    return response
                if response.status_code in (401, 403, 413):
                    self.errors.append(f"{method} {path}: {response.status_code} {response.text}")
                    return response
            time.sleep(0.1)  # a client's retry pause, not synchronisation
        return None

    def run(self) -> None:
        while not self.stopping.is_set():
            self.purchase()
            self.attempts += 1

    def purchase(self) -> None:
        """List a ticket of one seat or of several; one buyer orders it, or two buyers order
        seats of it; each order is then paid, cancelled or left to lapse."""
        seats = self.rng.choice([1, 1, 4])
        listed = self.call(
            "POST", "/api/tickets", self.seller, lambda s: s == 201,
            json={"title": f"Show {self.attempts}", "price": 10 + self.attempts % 7,
                  "quantity": seats},
        )  # fmt: skip
        if listed is None or listed.status_code != 201:
            return
        self.tickets.append(listed.json()["id"])
        for _ in range(1 if seats == 1 else 2):
            self.order(self.tickets[-1], self.rng.randint(1, min(seats, 3)))

    def order(self, ticket_id: str, seats: int) -> None:
        buyer = self.rng.choice(self.buyers)
        # 404 until the ticket's event reaches orders; 400 when the seats are gone.
        placed = self.call(
            "POST", "/api/orders", buyer, lambda s: s == 201,
            json={"ticketId": ticket_id, "quantity": seats},
        )  # fmt: skip
        if placed is None or placed.status_code != 201:
            return
        order_id = placed.json()["id"]
        self.orders.append(order_id)
        choice = self.rng.choice(["pay", "pay", "pay", "cancel", "lapse"])
        if choice == "pay":
            with self.paying:
                # 404 until the order's event reaches payments; a repeat after a lost answer
                # is refused as already paid or in progress.
                self.call(
                    "POST", "/api/payments", buyer, lambda s: s == 201,
                    json={"orderId": order_id, "token": "pm_card_visa"},
                )  # fmt: skip
        elif choice == "cancel":
            self.call("DELETE", f"/api/orders/{order_id}", buyer, lambda s: s == 204)

    def wait_for(self, more: int, what: str) -> None:
        target = self.attempts + more
        eventually(lambda: self.attempts >= target, 120, f"{more} more purchases after {what}")

    def stop(self) -> None:
        self.stopping.set()
        self.join(60)
        self.http.close()


def kill(stack: RunningStack, process: str) -> None:
    pid_file = stack.data_dir / "run" / f"{process}.pid"
    old = stack.kill(process)

    def restarted() -> bool:
        try:
            return int(pid_file.read_text()) != old
        except (OSError, ValueError):
            return False

    eventually(restarted, 30, f"{process} restarted")
    eventually(stack.all_ready, 60, f"every service ready after {process} restarted")


def outage(
    stack: RunningStack,
    shoppers: Shoppers,
    name: str,
    stop: Callable[[], None],
    start: Callable[[], None],
    affected: list[str],
) -> None:
    stop()
    for service in affected:

        def unready(service: str = service) -> bool:
            return not stack.ready(service)

        eventually(unready, 30, f"{service} not ready without {name}")
    shoppers.wait_for(1, f"{name} went away")
    start()
    eventually(stack.all_ready, 60, f"every service ready again after {name}")


def test_nothing_is_lost_or_doubled_through_crashes_restarts_and_partitions(
    stack: RunningStack, infrastructure: Infrastructure
) -> None:
    shoppers = Shoppers(stack, stack.sign_up(), [stack.sign_up() for _ in range(3)])
    shoppers.start()
    try:
        shoppers.wait_for(3, "the start")
        for process in PROCESSES:
            if process == "payments":
                # Mid-charge if we can: what the dying request leaves, Stripe's record settles.
                eventually(shoppers.paying.locked, 30, "a payment in flight")
            kill(stack, process)
            shoppers.wait_for(2, f"kill -9 {process}")
        event_services = ["tickets", "orders", "expiration", "payments"]
        outage(stack, shoppers, "NATS", infrastructure.nats.stop, infrastructure.nats.start,
               event_services)  # fmt: skip
        outage(stack, shoppers, "Redis", infrastructure.redis.stop, infrastructure.redis.start,
               ["expiration"])  # fmt: skip
        outage(stack, shoppers, "MongoDB", infrastructure.mongo.stop, infrastructure.mongo.start,
               ["auth", *event_services])  # fmt: skip
        outage(stack, shoppers, "orders' link to NATS", infrastructure.orders_link.cut,
               infrastructure.orders_link.restore, ["orders"])  # fmt: skip
        # Stripe is outside: payments stays ready (it still answers, 503 for a charge) and
        # settles what the outage left once Stripe is back.
        outage(stack, shoppers, "Stripe", infrastructure.stripe.stop, infrastructure.stripe.start,
               [])  # fmt: skip
        # The mail relay too: orders stays ready, and mails what waited once it is back.
        outage(stack, shoppers, "the mail relay", infrastructure.smtp.stop,
               infrastructure.smtp.start, [])  # fmt: skip
        shoppers.wait_for(2, "the last fault")
    finally:
        shoppers.stop()
    assert shoppers.attempts >= 20
    assert len(shoppers.orders) >= 10, shoppers.orders
    assert not shoppers.errors, shoppers.errors

    mongo: MongoClient[Any]
    with MongoClient(infrastructure.mongo.url) as mongo:
        truth = Truth(mongo, stack.state["stripe_url"], infrastructure.nats.url)
        try:
            eventually(truth.settled, 90, "every order ended and every replica caught up")
        except AssertionError as failure:
            raise AssertionError(f"{failure}: {truth.unsettled}") from None
        truth.check(shoppers)
        truth.check_mail(infrastructure.smtp)


class Truth:
    """What the databases and Stripe hold, and what must be true of it."""

    def __init__(self, mongo: MongoClient[Any], stripe_url: str, nats_url: str) -> None:
        self.mongo = mongo
        self.nats_url = nats_url
        self.unsettled: list[str] = []
        self.stripe = stripe.StripeClient(
            "sk_test_fault_injection", base_addresses={"api": stripe_url}, max_network_retries=0
        )

    def load(self, database: str, collection: str) -> dict[str, dict[str, Any]]:
        return {str(d["_id"]): d for d in self.mongo[database][collection].find({})}

    def settled(self) -> bool:
        self.unsettled = self.outstanding()
        return not self.unsettled

    def outstanding(self) -> list[str]:
        """What has not settled yet (empty when everything has), to say why if it never does."""
        orders = self.load("orders", "orders")
        ongoing = [f"order {i} {o['status']}" for i, o in orders.items()
                   if o["status"] not in ("complete", "cancelled")]  # fmt: skip
        tickets = self.load("tickets", "tickets")
        replicas = {
            "orders' ticket": (self.load("orders", "tickets"), tickets),
            "tickets' order": (self.load("tickets", "orders"), orders),
            "payments' order": (self.load("payments", "orders"), orders),
        }
        behind = [
            f"{name} {i}: version {mine} of {theirs}"
            for name, (replica, owner) in replicas.items()
            for i in owner.keys() | replica.keys()
            if (mine := replica.get(i, {}).get("version"))
            != (theirs := owner.get(i, {}).get("version"))
        ]
        payments = self.load("payments", "payments")
        pending = [f"payment {p['order_id']} {p['status']}" for p in payments.values()
                   if p["status"] != "succeeded"]  # fmt: skip
        mails = [f"mail {m['key']} {m['status']}" for m in self.load("orders", "mail").values()
                 if m["status"] != "sent"]  # fmt: skip
        return ongoing + behind + pending + mails + self.dead_letters()

    def dead_letters(self) -> list[str]:
        """Events a service set aside: none of them is bad, so any is one lost to a fault."""

        async def read() -> list[str]:
            bus = await EventBus.connect(self.nats_url, client_name="fault-check")
            try:
                letters = await stream_messages(bus, "deadletter.>")
            finally:
                await bus.close()
            return [f"{m.subject}: {m.headers.get('Tix-Reason')}" for m in letters]

        return asyncio.run(read())

    def check_mail(self, smtp: SmtpServer) -> None:
        """Every complete order's buyer was mailed its passes exactly once, and nobody else:
        through kill -9 of orders (the mailing process) and the relay's outage."""
        orders = self.load("orders", "orders")
        complete = {i for i, o in orders.items() if o["status"] == "complete"}
        domain = "tixvibe.dev"  # of tix dev's MAIL_FROM
        expected = {message_id(f"order-complete:{i}", domain): i for i in complete}
        received = Counter(str(m["Message-ID"]) for m in smtp.messages())
        assert set(received) == set(expected), set(received) ^ set(expected)
        doubled = {expected[m]: n for m, n in received.items() if n > 1}
        assert not doubled, f"mailed more than once: {doubled}"

    def check(self, shoppers: Shoppers) -> None:
        orders = self.load("orders", "orders")
        tickets = self.load("tickets", "tickets")
        payments = {p["order_id"]: p for p in self.load("payments", "payments").values()}
        # Nothing lost: everything a shopper was told exists, exists.
        assert set(shoppers.tickets) <= tickets.keys()
        assert set(shoppers.orders) <= orders.keys()
        # Replicas equal their owners (status included).
        for replica in (self.load("tickets", "orders"), self.load("payments", "orders")):
            for order_id, order in orders.items():
                assert replica[order_id]["status"] == order["status"], order_id
        # Every seat sold to exactly one complete order, or available; orders' count agrees.
        free = {i: r["free"] for i, r in self.load("orders", "tickets").items()}
        for ticket_id, ticket in tickets.items():
            holders = [
                o for o in orders.values()
                if o["ticket"]["id"] == ticket_id and o["status"] == "complete"
            ]  # fmt: skip
            sold = sum(o.get("quantity", 1) for o in holders)
            assert ticket["held"] == sold <= ticket["quantity"], ticket_id
            assert free[ticket_id] == ticket["quantity"] - sold, ticket_id
            assert ticket["for_sale"] == (sold < ticket["quantity"]), ticket_id
            if ticket["quantity"] == 1:
                assert ticket.get("order_id") == (str(holders[0]["_id"]) if holders else None)
        assert any(t["quantity"] > 1 and t["held"] > 1 for t in tickets.values()), "no seats"
        # Every payment belongs to one order: complete and kept, or cancelled and refunded.
        completed = {i for i, o in orders.items() if o["status"] == "complete"}
        assert completed <= payments.keys()
        for order_id, payment in payments.items():
            refunded = payment.get("refund_id") is not None
            assert orders[order_id]["status"] == ("cancelled" if refunded else "complete")
        # No charge without a payment record, no refund without one.
        intents = self.stripe.v1.payment_intents.list(params={"limit": 100}).data
        succeeded = [i for i in intents if i.status == "succeeded"]
        assert len(succeeded) < 100  # the listing was whole
        for intent in succeeded:
            order_id = str(intent.metadata.to_dict().get("orderId"))
            assert order_id in payments, intent.id
            assert payments[order_id]["stripe_id"] == intent.id
            order = orders[order_id]  # every seat at the price it was ordered at
            assert intent.amount == order.get("quantity", 1) * order["ticket"]["price_cents"]
        assert len(succeeded) == len(payments)
        # The stream really went through every ending.
        assert completed, "no purchase completed"
        assert any(o["status"] == "cancelled" for o in orders.values())
