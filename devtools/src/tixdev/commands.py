"""`tix status`, `tix seed` and `tix events tail`: inspecting and filling a running local stack.
They find it through `$TIX_DATA_DIR/stack.json`, which `tix dev` writes while it runs."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from nats.js.api import DeliverPolicy

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
    """Each component's readiness; exit 1 if any is not ready."""
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
    return 0 if healthy else 1


# Title, price, days from now until the event, its venue.
DEMO_TICKETS = [
    ("Jazz night at the Blue Room", 35, 6, "The Blue Room, Chicago"),
    ("Indie rock festival, Saturday pass", 89.5, 24, "Riverside Park, Austin"),
    ("Symphony No. 9, balcony", 62, 41, "Symphony Hall, Boston"),
    ("Stand-up comedy special", 25, 13, "The Comedy Cellar, New York"),
    ("Tech conference, full pass", 299, 75, "Moscone Center, San Francisco"),
]


def _demo_ticket(title: str, price: float, days: int, venue: str) -> dict[str, Any]:
    starts = datetime.now(UTC).replace(hour=19, minute=30, second=0, microsecond=0)
    return {
        "title": title,
        "price": price,
        "startsAt": (starts + timedelta(days=days)).isoformat(),
        "venue": venue,
    }


def data_dir() -> Path:
    return Path(os.environ.get("TIX_DATA_DIR", ".dev"))


def seed() -> int:
    """Demo seller and buyer accounts and a few tickets for sale, through the gateway. Their
    password is generated once per machine and kept with the stack's other local secrets."""
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
        for ticket in DEMO_TICKETS:
            seller.post("/api/tickets", json=_demo_ticket(*ticket)).raise_for_status()
    print(  # noqa: T201
        f"seeded {len(DEMO_TICKETS)} tickets; sign in as seller@tixvibe.dev or "
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
