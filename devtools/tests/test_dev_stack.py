"""`tix dev` from the outside, as an operator runs it: starts everything, serves, stops clean."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys
from collections import Counter
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx

from tixcommon.bus import EventBus
from tixdev.mail_server import read_messages
from tixtest import consumers_idle
from tixtest.stack import (
    OutputReader,
    RunningStack,
    buy_one_and_let_one_lapse,
    eventually,
    running_stack,
)

SIGN_INS = 500


def _consumers_idle(nats_url: str, *durables: str) -> bool:
    async def check() -> bool:
        bus = await EventBus.connect(nats_url, client_name="test-catch-up")
        try:
            return await consumers_idle(bus, *durables)
        finally:
            await bus.close()

    return asyncio.run(check())


def _a_burst_of_sign_ins_is_answered(gateway: str) -> None:
    """What an on-sale brings: 500 sign-ins at once through the gateway, on the settings `tix
    dev` runs with. Every one is answered 200: none is refused (503) or cut off (504)."""
    credentials = {"email": "burst@example.com", "password": "password1"}

    async def burst() -> Counter[int]:
        limits = httpx.Limits(max_connections=SIGN_INS, max_keepalive_connections=SIGN_INS)
        async with httpx.AsyncClient(base_url=gateway, limits=limits, timeout=60) as http:
            assert (await http.post("/api/users/signup", json=credentials)).status_code == 201
            answers = await asyncio.gather(
                *(http.post("/api/users/signin", json=credentials) for _ in range(SIGN_INS))
            )
        return Counter(answer.status_code for answer in answers)

    assert asyncio.run(burst()) == {200: SIGN_INS}


def _the_payer_is_mailed_their_passes(stack: RunningStack) -> None:
    """Once, as an .eml under .dev/mail (`tix mail` reads them), with the PDF attached."""

    def mailed() -> list[EmailMessage] | None:
        found = [
            m for m in read_messages(stack.data_dir / "mail") if m["To"] == "payer@example.com"
        ]
        return found or None

    (message,) = eventually(mailed, 20, "the payer's passes mailed")
    (attachment,) = message.iter_attachments()
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content().startswith(b"%PDF-")
    listed = tix(stack.env, "mail")
    assert listed.returncode == 0, listed.stderr
    assert "payer@example.com" in listed.stdout


# A route of each service that needs a session: 401 once it is ended (the contract's bound: 5 s).
_SIGNED_IN_ROUTES = (
    ("POST", "/api/tickets"),
    ("GET", "/api/orders"),
    ("POST", "/api/payments"),
    ("GET", "/api/waitingroom/challenge"),
)


def _a_reset_by_the_mailed_link_ends_every_old_session(stack: RunningStack) -> None:
    """Through the gateway, by the link in the .eml: the new password works and the old one
    not, the link works once, and every service refuses the session from before within 5 s."""
    email = "forgetful@example.com"
    with (
        httpx.Client(base_url=stack.gateway, timeout=20) as old,
        httpx.Client(base_url=stack.gateway, timeout=20) as anyone,
    ):
        signup = old.post("/api/users/signup", json={"email": email, "password": "password1"})
        assert signup.status_code == 201
        assert old.get("/api/orders").status_code == 200
        assert anyone.post("/api/users/password-reset", json={"email": email}).status_code == 202

        def link() -> str | None:
            for message in read_messages(stack.data_dir / "mail"):
                body = message.get_body(("plain",))
                found = body and re.search(r"/auth/reset\?token=([\w-]+)", body.get_content())
                if message["To"] == email and found:
                    return found[1]
            return None

        token = eventually(link, 20, "the reset mail")
        confirm = {"token": token, "password": "a new password"}
        assert anyone.post("/api/users/password-reset/confirm", json=confirm).status_code == 200
        again = anyone.post("/api/users/password-reset/confirm", json=confirm)
        assert again.status_code == 400
        assert again.json()["errors"][0]["field"] == "token"

        def everyone_refuses() -> bool:
            if old.get("/api/users/currentuser").json()["currentUser"] is not None:
                return False
            return all(
                old.request(m, path, json={}).status_code == 401 for m, path in _SIGNED_IN_ROUTES
            )

        eventually(everyone_refuses, 5, "every service refusing the old session")
        assert anyone.get("/api/orders").status_code == 200  # the reset's own session
        signin = "/api/users/signin"
        assert (
            anyone.post(signin, json={"email": email, "password": "password1"}).status_code == 400
        )
        assert anyone.post(signin, json={"email": email, "password": "a new password"}).is_success


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_tix_dev_runs_the_platform_behind_one_gateway_and_stops_cleanly(tmp_path: Path) -> None:
    with running_stack(
        # A crashed service stays down for 3 s: long enough to publish what it must catch up on.
        tmp_path / "data",
        EXPIRATION_WINDOW_SECONDS="4",
        TIX_RESTART_BACKOFF_SECONDS="3",
    ) as stack:
        _run_and_stop(stack, tmp_path)


def _kill(stack: RunningStack, name: str) -> None:
    """kill -9 one supervised service and wait for the supervisor to report the crash."""
    stack.kill(name)
    stack.reader.wait_for(f"{name} exited with code -9", timeout=10)


def _killed_services_catch_up(stack: RunningStack) -> None:
    """Events published while a consumer is dead are processed once it is back: its durable
    consumer kept its place in the stream."""
    gateway, services = stack.gateway, stack.state["services"]
    orders_port = int(services["orders"].rsplit(":", 1)[1])
    tickets_port = int(services["tickets"].rsplit(":", 1)[1])
    with (
        httpx.Client(base_url=gateway, timeout=10) as seller,
        httpx.Client(base_url=gateway, timeout=10) as buyer,
    ):
        for client, email in ((seller, "late-seller@example.com"), (buyer, "late@example.com")):
            signup = client.post("/api/users/signup", json={"email": email, "password": "pw123456"})
            assert signup.status_code == 201

        # orders is down while a ticket is listed and repriced: it misses both events.
        _kill(stack, "orders")
        listed = seller.post("/api/tickets", json={"title": "Missed gig", "price": 12})
        assert listed.status_code == 201
        ticket = listed.json()
        repriced = seller.put(
            f"/api/tickets/{ticket['id']}", json={"title": "Missed gig", "price": 15}
        )
        assert repriced.status_code == 200
        assert not _listening(orders_port), "orders came back before the events were published"
        eventually(lambda: stack.ready("orders"), 30, "orders restarted")
        # Each subject has its own consumer: the listing and the reprice are caught up
        # independently, so wait for both before ordering at the new price.
        eventually(
            lambda: _consumers_idle(
                stack.state["nats_url"], "orders-ticket-created", "orders-ticket-updated"
            ),
            30,
            "orders caught up with the missed events",
        )

        def place() -> Any:
            response = buyer.post("/api/orders", json={"ticketId": ticket["id"]})
            return response.json() if response.status_code == 201 else None

        order = eventually(place, 10, "missed ticket orderable")
        assert order["ticket"]["price"] == 15

        # tickets is down while an order is placed: it misses order.created.
        on_sale = buyer.get("/api/tickets").json()
        # Not the seeded on-sale show: it sells only through the waiting room.
        other = next(t for t in on_sale if t["id"] != ticket["id"] and "onSaleAt" not in t)
        _kill(stack, "tickets")
        placed = buyer.post("/api/orders", json={"ticketId": other["id"]})
        assert placed.status_code == 201
        assert not _listening(tickets_port), "tickets came back before the order was placed"
        eventually(lambda: stack.ready("tickets"), 30, "tickets restarted")

        def caught_up() -> bool:
            # The 4 s reservation may lapse while tickets is down: then the order's cancel is
            # missed too, and the ticket must end up reserved and released again (version 2).
            shown = buyer.get(f"/api/tickets/{other['id']}").json()
            live = buyer.get(f"/api/orders/{placed.json()['id']}").json()["status"] == "created"
            holder = placed.json()["id"] if live else None
            return bool(shown["version"] >= (1 if live else 2) and shown.get("orderId") == holder)

        eventually(caught_up, 30, "missed order events applied")


def tix(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tixdev", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _run_and_stop(stack: RunningStack, tmp_path: Path) -> None:
    process, reader, env = stack.process, stack.reader, stack.env
    gateway_port = stack.gateway_port
    output = stack.startup_output
    assert any(f"open http://127.0.0.1:{gateway_port}" in line for line in output)
    infra_ports = [int(port) for port in re.findall(r"://127\.0\.0\.1:(\d+)", "".join(output))]
    # mongo, nats, redis, stripe, 6 services, client, gateway
    assert len(set(infra_ports)) >= 12

    signup = httpx.post(
        f"http://127.0.0.1:{gateway_port}/api/users/signup",
        json={"email": "dev@example.com", "password": "password1"},
    )
    assert signup.status_code == 201
    assert (tmp_path / "data" / "jwt_key").stat().st_mode & 0o777 == 0o600
    _a_burst_of_sign_ins_is_answered(stack.gateway)
    storefront = httpx.get(f"http://127.0.0.1:{gateway_port}/")  # everything else: the client
    assert storefront.status_code == 200
    assert "Tickets for sale" in storefront.text

    status = tix(env, "status")
    assert status.returncode == 0, status.stdout
    # Each process's key figures, from its metrics.
    figures = [line for line in status.stdout.splitlines() if "metrics:" in line]
    assert len(figures) == 8, status.stdout
    assert all("events waiting" in line and "dead letters" in line for line in figures)
    for name in ("auth", "tickets", "orders", "expiration", "payments", "waitingroom"):
        assert any(
            line.startswith(name) and " ready " in line for line in status.stdout.splitlines()
        )

    with subprocess.Popen(
        [sys.executable, "-m", "tixdev", "events", "tail", "--count", "1"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    ) as tail:
        followed = OutputReader(tail)
        followed.wait_for("following every subject", timeout=30)  # it shows new events only
        seeded = tix(env, "seed")
        followed.wait_for("ticket.created", timeout=30)
        assert tail.wait(timeout=30) == 0
    assert seeded.returncode == 0, seeded.stderr
    assert "seeded 301 tickets (one goes on sale through the waiting room" in seeded.stdout
    assert "nothing to seed" in tix(env, "seed").stdout  # once only
    first_page = httpx.get(f"http://127.0.0.1:{gateway_port}/api/tickets?sort=startsAt")
    jazz = httpx.get(f"http://127.0.0.1:{gateway_port}/api/tickets?q=jazz").json()
    assert "next" in first_page.links  # a catalogue with pages to browse, and to search
    assert jazz
    assert all("jazz" in ticket["title"].casefold() for ticket in jazz)
    assert {1, 200} <= {ticket["quantity"] for ticket in first_page.json()}  # seats of many
    listing = first_page.json()
    buy_one_and_let_one_lapse(f"http://127.0.0.1:{gateway_port}", listing)
    _the_payer_is_mailed_their_passes(stack)
    _a_reset_by_the_mailed_link_ends_every_old_session(stack)
    _killed_services_catch_up(stack)

    process.send_signal(signal.SIGINT)
    reader.wait_for("stopped", timeout=30)
    assert process.wait(timeout=10) == 0
    assert not [port for port in infra_ports if _listening(port)]
    stopped = tix(env, "status")
    assert stopped.returncode == 1
    assert "no running stack" in stopped.stderr
