"""Running `tix dev` from a test, exactly as an operator does: a subprocess on free ports,
its output read on a thread so every wait has a deadline."""

from __future__ import annotations

import functools
import json
import os
import queue
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from tixcommon.auth import SESSION_COOKIE
from tixdev.servers import free_port_block

# Whatever the developer's shell points at, the stack under test starts its own.
_INHERITED = {
    "MONGO_URI", "NATS_URL", "REDIS_URL", "STRIPE_API_BASE", "JWT_KEY", "STRIPE_KEY",
    "PASS_SIGNING_KEY", "SMTP_HOST", "SMTP_PORT", "SMTP_USERNAME", "SMTP_PASSWORD", "MAIL_FROM",
    "PUBLIC_URL",
}  # fmt: skip


def eventually(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `check` until it returns something truthy (and return it), or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.05)
    raise AssertionError(f"{what} not within {timeout}s")


class OutputReader:
    """Collects a process's output lines on a thread, so waiting for one has a deadline even
    when the process goes silent (a bare readline would block forever)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None
        self._thread = threading.Thread(target=self._pump, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float) -> list[str]:
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                break
            seen.append(line)
            if text in line:
                return seen
        raise AssertionError(f"{text!r} not printed within {timeout}s:\n{''.join(seen)}")


@dataclass
class RunningStack:
    process: subprocess.Popen[str]
    reader: OutputReader
    gateway: str
    gateway_port: int
    data_dir: Path
    env: dict[str, str]
    startup_output: list[str]

    def sign_up(self) -> dict[str, str]:
        """A new user, signed up through the gateway: the header that carries their session."""
        return sign_up(self.gateway)

    @functools.cached_property
    def state(self) -> dict[str, Any]:
        """What `tix dev` wrote to stack.json before saying it was up: the gateway, the
        services, the servers' URLs."""
        state: dict[str, Any] = json.loads((self.data_dir / "stack.json").read_text())
        return state

    def ready(self, service: str) -> bool:
        """Whether the service's /readyz says it and its dependencies answer."""
        try:
            response = httpx.get(f"{self.state['services'][service]}/readyz", timeout=3)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def all_ready(self) -> bool:
        return all(self.ready(service) for service in self.state["services"])

    def kill(self, process: str) -> int:
        """kill -9 one supervised process (`tix dev` restarts it); its old pid."""
        pid = int((self.data_dir / "run" / f"{process}.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        return pid


def sign_up(base_url: str) -> dict[str, str]:
    """A new user, signed up at `base_url` (the gateway, or auth itself): the header that
    carries their session."""
    email = f"user-{secrets.token_hex(6)}@example.com"
    response = httpx.post(
        f"{base_url}/api/users/signup",
        json={"email": email, "password": secrets.token_urlsafe(12)},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return {"Cookie": f"{SESSION_COOKIE}={response.cookies[SESSION_COOKIE]}"}


def stack_env(data_dir: Path, **overrides: str) -> tuple[dict[str, str], int]:
    """The environment of a `tix dev` on free ports with its data under `data_dir`."""
    env = {key: value for key, value in os.environ.items() if key not in _INHERITED}
    # The gateway, then the seven HTTP processes on TIX_BASE_PORT + 1..7, their metrics on 8..15.
    gateway_port = free_port_block(16)
    env.update(
        {
            "TIX_DATA_DIR": str(data_dir),
            "TIX_BASE_PORT": str(gateway_port),
            "TIX_GATEWAY_PORT": str(gateway_port),
            **overrides,
        }
    )
    return env, gateway_port


@contextmanager
def running_stack(data_dir: Path, **overrides: str) -> Iterator[RunningStack]:
    """`tix dev` until the block ends; killed (whole process group) if it did not stop."""
    env, gateway_port = stack_env(data_dir, **overrides)
    with subprocess.Popen(
        [sys.executable, "-m", "tixdev", "dev"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            reader = OutputReader(process)
            output = reader.wait_for("TixVibe is up", timeout=90)
            yield RunningStack(
                process=process,
                reader=reader,
                gateway=f"http://127.0.0.1:{gateway_port}",
                gateway_port=gateway_port,
                data_dir=data_dir,
                env=env,
                startup_output=output,
            )
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def buy_one_and_let_one_lapse(gateway: str, listing: list[dict[str, Any]]) -> None:
    """A buyer orders the first ticket and pays; another orders the second and lets the
    reservation lapse (within 20 s). Only through the gateway, as a browser would: the dev-stack
    test drives it through `tix dev`, the image tests through the fleet of images."""
    with (
        httpx.Client(base_url=gateway, timeout=10) as buyer,
        httpx.Client(base_url=gateway, timeout=10) as idler,
    ):
        for client, email in ((buyer, "payer@example.com"), (idler, "idler@example.com")):
            signup = client.post("/api/users/signup", json={"email": email, "password": "pw123456"})
            assert signup.status_code == 201
        paid_ticket, lapsed_ticket = listing[0], listing[1]

        def place(client: httpx.Client, ticket: dict[str, Any]) -> Any:
            response = client.post("/api/orders", json={"ticketId": ticket["id"]})
            return response.json() if response.status_code == 201 else None

        order = eventually(lambda: place(buyer, paid_ticket), 10, "order placed")
        lapsing = eventually(lambda: place(idler, lapsed_ticket), 10, "order placed")

        def pay() -> Any:
            response = buyer.post(
                "/api/payments", json={"orderId": order["id"], "token": "pm_card_visa"}
            )
            return response if response.status_code != 404 else None

        assert eventually(pay, 10, "payment accepted").status_code == 201

        def status(client: httpx.Client, placed: Any) -> str:
            return str(client.get(f"/api/orders/{placed['id']}").json()["status"])

        eventually(lambda: status(buyer, order) == "complete", 10, "order complete")
        eventually(lambda: status(idler, lapsing) == "cancelled", 20, "reservation lapsed")

        def seats_left(ticket: dict[str, Any]) -> int:
            # By its own page: the listing is paged, and need not show it on the first.
            return int(buyer.get(f"/api/tickets/{ticket['id']}").json()["available"])

        # Tickets releases the seat when order.cancelled reaches it, just after the cancel.
        everything = lapsed_ticket["quantity"]
        eventually(lambda: seats_left(lapsed_ticket) == everything, 10, "lapsed seat for sale")
        sold = buyer.get(f"/api/tickets/{paid_ticket['id']}").json()
        assert sold["available"] == paid_ticket["quantity"] - 1
        if paid_ticket["quantity"] == 1:
            assert sold["orderId"] == order["id"]
