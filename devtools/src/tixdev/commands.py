"""`tix status`, `tix seed` and `tix events tail`: inspecting and filling a running local stack.
They find it through `$TIX_DATA_DIR/stack.json`, which `tix dev` writes while it runs."""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from nats.js.api import DeliverPolicy
from prometheus_client.parser import text_string_to_metric_families

from tixcommon.bus import EventBus
from tixdev.stack import local_secret


class StackNotRunning(RuntimeError):
    pass


def stack_state() -> dict[str, Any]:
    path = data_dir() / "stack.json"
    if not path.exists():
        raise StackNotRunning(f"no running stack ({path} not found): start it with `make dev`")
    state: dict[str, Any] = json.loads(path.read_text())
    return state


def status() -> int:
    """Each component's readiness, then each process's key figures from its metrics (events
    waiting for its consumers, its outbox's oldest entry, its dead letters and, where it sends
    mail, its mail queue); exit 1 if any component is not ready."""
    state = stack_state()
    healthy = True
    with httpx.Client(timeout=3) as client:
        for name, url in state["services"].items():
            try:
                response = client.get(f"{url}/readyz")
                ok = response.status_code == 200
                detail = response.json().get("checks") if ok else response.json()["errors"]
            except httpx.HTTPError as error:
                ok, detail = False, f"unreachable ({type(error).__name__})"
            healthy &= ok
            print(f"{name:<12} {'ready' if ok else 'NOT READY':<10} {detail}")  # noqa: T201
        print(f"{'gateway':<12} {state['gateway']}")  # noqa: T201
        for name, url in state.get("metrics", {}).items():
            print(f"{name:<12} {_key_figures(client, url)}")  # noqa: T201
    return 0 if healthy else 1


def _key_figures(client: httpx.Client, url: str) -> str:
    """What an operator looks at first, from one scrape of a process's metrics."""
    try:
        exposition = client.get(url).text
    except httpx.HTTPError as error:
        return f"metrics unreachable ({type(error).__name__})"
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    figures = [
        f"{totals.get('tixvibe_consumer_pending_messages', 0):.0f} events waiting",
        f"{totals.get('tixvibe_consumer_ack_pending_messages', 0):.0f} in hand",
        f"outbox {totals.get('tixvibe_outbox_entries', 0):.0f} "
        f"(oldest {totals.get('tixvibe_outbox_oldest_entry_age_seconds', 0):.1f} s)",
        f"{totals.get('tixvibe_dead_letters_total', 0):.0f} dead letters",
    ]
    # Only the processes with a mail relay (orders, auth) have these (tixcommon.mail.metrics).
    if "tixvibe_mail_queued" in totals:
        figures.append(
            f"mail {totals['tixvibe_mail_queued']:.0f} queued "
            f"(oldest {totals.get('tixvibe_mail_oldest_queued_age_seconds', 0):.1f} s), "
            f"{totals.get('tixvibe_mail_sent_total', 0):.0f} sent, "
            f"{totals.get('tixvibe_mail_failures_total', 0):.0f} failed attempts"
        )
    return "metrics: " + ", ".join(figures)


# The demo catalogue: each act with what it plays and its usual price, on tour through these
# venues over the coming six months, seats of every kind: single seats and boxes, and listings
# of many identical seats (a block of a row, general admission, standing).
ACTS = [
    ("The Blue Room Collective", "jazz night", 35),
    ("Aurora String Quartet", "string quartet", 48),
    ("Midnight Static", "indie rock", 42),
    ("Lena Park", "acoustic pop", 55),
    ("The Hollow Pines", "folk", 30),
    ("City Symphony Orchestra", "symphony", 72),
    ("Marco Silva Trio", "jazz trio", 38),
    ("Neon Harbor", "synthwave", 45),
    ("Ballet Nord", "ballet", 85),
    ("Comedy Underground", "stand-up comedy", 25),
    ("Ruby Okafor", "soul", 60),
    ("The Copper Kettles", "bluegrass", 28),
    ("Opera Nova", "opera", 95),
    ("DJ Solenne", "house", 33),
    ("Northern Lights Choir", "choral", 22),
]
VENUES = [
    "Royal Albert Hall, London", "Paradiso, Amsterdam", "The Fillmore, San Francisco",
    "Olympia, Paris", "Symphony Hall, Boston", "The Blue Room, Chicago", "Tivoli, Utrecht",
    "Brooklyn Steel, New York", "Vicar Street, Dublin", "Columbiahalle, Berlin",
    "Ryman Auditorium, Nashville", "The Sage, Gateshead",
]  # fmt: skip
SEATS = [  # what is sold, its price against the act's usual one, how many are listed
    ("Stalls, row F", 1.0, 1), ("Balcony, row B", 0.8, 12), ("General admission", 0.7, 200),
    ("Front row", 1.6, 1), ("Box 4, two seats", 2.4, 1), ("Standing", 0.6, 500),
    ("Circle, row K", 0.9, 20), ("VIP table", 3.0, 1),
]  # fmt: skip
DEMO_SIZE = 300


def demo_catalogue(size: int = DEMO_SIZE) -> list[dict[str, Any]]:
    """`size` listings, the same on every machine: events at 19:30 UTC from tomorrow on."""
    draw = random.Random(2027)  # noqa: S311 - a demo catalogue, not a secret
    evening = datetime.now(UTC).replace(hour=19, minute=30, second=0, microsecond=0)
    catalogue = []
    for n in range(size):
        act, kind, usual = ACTS[n % len(ACTS)]
        seat, factor, quantity = draw.choice(SEATS)
        venue = draw.choice(VENUES)
        catalogue.append(
            {
                "title": f"{act}: {kind}, {seat}",
                "price": max(0.5, round(usual * factor * draw.uniform(0.8, 1.25) * 2) / 2),
                "startsAt": (evening + timedelta(days=draw.randrange(1, 183))).isoformat(),
                "venue": venue,
                "description": f"{act} live at {venue.split(',')[0]}. {seat}; doors at 19:00.",
                "quantity": quantity,
            }
        )
    return catalogue


# The tour's on-sale: a show whose sale opens a few minutes after seeding, through the room.
ON_SALE_IN = timedelta(minutes=5)


def on_sale_show() -> dict[str, Any]:
    """One show sold through the waiting room: 1,000 seats, at most 4 a buyer."""
    opens = datetime.now(UTC).replace(microsecond=0) + ON_SALE_IN
    return {
        "title": "The Mountain Goats: the on-sale, general admission",
        "price": 45,
        "startsAt": (opens + timedelta(days=60)).isoformat(),
        "venue": "Union Transfer, Philadelphia",
        "description": "Sold through the waiting room: join before the sale for a random place.",
        "quantity": 1000,
        "onSaleAt": opens.isoformat(),
        "perBuyerLimit": 4,
    }


def data_dir() -> Path:
    return Path(os.environ.get("TIX_DATA_DIR", ".dev"))


def seed() -> int:
    """Demo seller and buyer accounts and a catalogue of tickets for sale, through the gateway
    (once: a second run finds the seller's listings and adds none). Their password is generated
    once per machine and kept with the stack's other local secrets."""
    gateway = stack_state()["gateway"]
    password = local_secret(data_dir(), "SEED_PASSWORD", lambda: secrets.token_urlsafe(9))
    with httpx.Client(base_url=gateway, timeout=10) as seller:
        for email in ("seller@tixvibe.dev", "buyer@tixvibe.dev"):
            response = httpx.post(
                f"{gateway}/api/users/signup", json={"email": email, "password": password}
            )
            if response.status_code not in (201, 400):
                response.raise_for_status()
        signin = seller.post(
            "/api/users/signin", json={"email": "seller@tixvibe.dev", "password": password}
        )
        signin.raise_for_status()
        if seller.get("/api/tickets/mine").json():
            print("the demo seller's listings are there already: nothing to seed")  # noqa: T201
            return 0
        catalogue = [*demo_catalogue(), on_sale_show()]
        # A few at a time: a few hundred listings in seconds, not one round trip after another.
        with ThreadPoolExecutor(max_workers=8) as pool:
            for response in pool.map(
                lambda ticket: seller.post("/api/tickets", json=ticket), catalogue
            ):
                response.raise_for_status()
    print(  # noqa: T201
        f"seeded {len(catalogue)} tickets (one goes on sale through the waiting room in "
        f"{ON_SALE_IN.seconds // 60} minutes); sign in as seller@tixvibe.dev or "
        f"buyer@tixvibe.dev with password {password!r} at {gateway}"
    )
    return 0


async def tail(subject: str | None, count: int | None) -> int:
    """Follow events as they are published (all subjects, or one), pretty-printed."""
    bus = await EventBus.connect(stack_state()["nats_url"], client_name="tix-events-tail")
    seen = 0
    try:
        wire = bus.subject(subject) if subject else bus.subject(">")
        subscription = await bus.js.subscribe(
            wire, stream=bus.stream_name, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
        )
        print(f"following {subject or 'every subject'} (Ctrl-C stops)", flush=True)  # noqa: T201
        async for message in subscription.messages:
            headers = message.headers or {}
            payload = orjson.loads(message.data)
            print(  # noqa: T201
                f"{message.metadata.timestamp:%H:%M:%S.%f} {bus.contract_subject(message.subject)}"
                f"  id={headers.get('Nats-Msg-Id', '-')} request={headers.get('X-Request-Id', '-')}"
                f"\n  {orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode()}",
                flush=True,
            )
            seen += 1
            if count is not None and seen >= count:
                break
    finally:
        await bus.close()
    return 0


def events_tail(subject: str | None, count: int | None) -> int:
    try:
        return asyncio.run(tail(subject, count))
    except KeyboardInterrupt:
        return 0
