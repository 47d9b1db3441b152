"""The platform's OpenAPI document proven usable, not just valid: a Python client generated from
the merged document at the gateway by openapi-python-client, as an integrator would make one,
drives a whole purchase (sign up, list with search, order, pay, see it complete)."""

from __future__ import annotations

import importlib
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tixtest.stack import RunningStack, eventually

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PACKAGE = "tixvibe_client"
BINARY_BODIES = """content_type_overrides:
  image/png: application/octet-stream
  image/svg+xml: application/octet-stream
  application/pdf: application/octet-stream
"""


@pytest.fixture(scope="module")
def generated(stack: RunningStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The generated package's parent folder, on sys.path for the module's tests."""
    out = tmp_path_factory.mktemp("generated")
    document = httpx.get(f"{stack.gateway}/api/openapi.json", timeout=10)
    assert document.status_code == 200, document.text
    (out / "openapi.json").write_bytes(document.content)
    # The generator reads JSON, text and octet-stream bodies: the passes' QR codes and PDF are
    # bytes to it, as docs/using-the-api.md tells integrators.
    (out / "config.yaml").write_text(
        f"package_name_override: {PACKAGE}\npost_hooks: []\n{BINARY_BODIES}"
    )
    run = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            f"--path={out / 'openapi.json'}",
            f"--output-path={out / PACKAGE}",
            "--meta=none",
            f"--config={out / 'config.yaml'}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Generated whole: the generator drops, with a warning, any schema it cannot make a model of.
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Warning" not in run.stdout + run.stderr, run.stdout + run.stderr
    sys.path.insert(0, str(out))
    yield out
    sys.path.remove(str(out))
    for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[name]


def operation(tag: str, name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.api.{tag}.{name}")


@pytest.fixture(scope="module")
def models(generated: Path) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.models")


Opener = Callable[..., Any]


@pytest.fixture
def open_client(generated: Path, stack: RunningStack) -> Iterator[Opener]:
    """Opens the generated package's `Client` (or `AuthenticatedClient`, given a token) on the
    gateway; every one is closed after the test."""
    package = importlib.import_module(PACKAGE)
    with ExitStack() as opened:

        def open_one(token: str | None = None) -> Any:
            if token is None:
                client = package.Client(base_url=stack.gateway)
            else:
                client = package.AuthenticatedClient(base_url=stack.gateway, token=token)
            return opened.enter_context(client)

        yield open_one


def signed_up(open_client: Opener, models: ModuleType) -> Any:
    """A client whose user has just signed up: its cookie jar keeps the session."""
    client = open_client()
    email, password = f"buyer-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(12)
    user = operation("users", "sign_up").sync(
        client=client, body=models.SignUpRequest(email=email, password=password)
    )
    assert isinstance(user, models.UserOut)
    assert user.email == email
    return client


def test_a_generated_client_buys_seats_from_search_to_a_complete_order(
    open_client: Opener, models: ModuleType
) -> None:
    seller = signed_up(open_client, models)
    word = f"quartet{secrets.token_hex(3)}"
    listing = operation("tickets", "create_ticket").sync(
        client=seller,
        body=models.TicketIn(
            title=f"The {word} plays Haydn",
            price="12.50",
            quantity=3,
            starts_at=datetime.now(UTC) + timedelta(days=30),
            venue="Wigmore Hall",
        ),
        idempotency_key=secrets.token_hex(8),
    )
    assert isinstance(listing, models.TicketOut)
    assert (listing.price, listing.available) == (12.5, 3)

    # The buyer calls with a bearer token: the session cookie's value, as a phone app would.
    buyer = open_client(token=signed_up(open_client, models).get_httpx_client().cookies["session"])
    found = operation("tickets", "list_tickets").sync(
        client=buyer, q=word, min_price=10, max_price=20, sort=models.ListingSort.PRICE
    )
    assert [ticket.id for ticket in found] == [listing.id]

    def place() -> Any:
        order = operation("orders", "place_order").sync(
            client=buyer,
            body=models.OrderIn(ticket_id=listing.id, quantity=2),
            idempotency_key=secrets.token_hex(8),
        )
        # A 404 (in the documented error body) until orders has heard of the listing.
        return order if isinstance(order, models.OrderOut) else None

    order = eventually(place, 10, "order placed")
    assert (order.quantity, order.status) == (2, models.OrderStatus.CREATED)
    key = secrets.token_hex(8)

    def pay() -> Any:
        payment = operation("payments", "pay").sync(
            client=buyer,
            body=models.PaymentIn(order_id=order.id, token="pm_card_visa"),
            idempotency_key=key,
        )
        # A 404 until payments has heard of the order: retried with the same key, paid once.
        return payment if isinstance(payment, models.PaymentOut) else None

    eventually(pay, 10, "order paid")

    def complete() -> bool:
        shown = operation("orders", "show_order").sync(client=buyer, order_id=order.id)
        return bool(shown.status == models.OrderStatus.COMPLETE)

    eventually(complete, 10, "order complete")
    left = operation("tickets", "show_ticket").sync(client=open_client(), ticket_id=listing.id)
    assert left.available == 1


def test_a_generated_client_reads_refusals_in_the_documented_error_body(
    open_client: Opener, models: ModuleType
) -> None:
    client = open_client()
    refused = operation("users", "sign_in").sync(
        client=client, body=models.SignInRequest(email="nobody@example.com", password="wrong")
    )
    assert isinstance(refused, models.ErrorBody)
    assert [error.message for error in refused.errors] == ["Invalid credentials"]
    unauthenticated = operation("orders", "list_my_orders").sync(client=client)
    assert isinstance(unauthenticated, models.ErrorBody)
