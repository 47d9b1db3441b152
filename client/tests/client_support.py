"""What the client's tests share: a visitor that browses like a browser without JavaScript."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tixdev.mail_server import read_messages
from tixtest.altcha import solved
from tixtest.stack import eventually

# Long enough to pay in a browser, short enough to watch a reservation lapse in a test.
RESERVATION_SECONDS = 10
# A waiting room's turn: long enough to buy in a browser, short enough to watch one lapse.
ADMISSION_SECONDS = 10
ARTIFACTS = Path(__file__).parent / "artifacts"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_RESET_LINK = re.compile(r"https?://\S+/auth/reset\?token=[\w.~%-]+")


class Visitor:
    """A browser without JavaScript: follows what the pages offer, keeps its cookies."""

    def __init__(self, gateway: str) -> None:
        self.http = httpx.Client(base_url=gateway, timeout=15, follow_redirects=False)
        self.email = f"{uuid.uuid4().hex[:12]}@example.com"
        self.password = "password123"

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path)

    def csrf_token(self, page: str = "/") -> str:
        match = _CSRF.search(self.get(page).text)
        assert match, f"no form token on {page}"
        return match.group(1)

    def submit(self, path: str, data: dict[str, str], *, from_page: str | None = None) -> Any:
        """Post a form the way a browser does: with the token of the page it came from."""
        token = self.csrf_token(from_page or path)
        return self.http.post(path, data={"csrf_token": token, **data})

    def sign_up(self) -> Visitor:
        response = self.submit(
            "/auth/signup", {"email": self.email, "password": self.password, "next": "/"}
        )
        assert response.status_code == 303, response.text
        return self

    def sign_in(self) -> Visitor:
        response = self.submit(
            "/auth/signin", {"email": self.email, "password": self.password, "next": "/"}
        )
        assert response.status_code == 303, response.text
        return self

    def signed_in(self) -> bool:
        """Whether the pages treat this visitor's session as signed in."""
        return "Sign out" in self.get("/").text

    def list_ticket(self, title: str, price: str = "25") -> str:
        response = self.submit("/tickets/new", {"title": title, "price": price})
        assert response.status_code == 303, response.text
        ticket_id: str = response.headers["location"].split("/")[2].split("?")[0]
        return ticket_id

    def list_on_sale(
        self, title: str, *, opens_in: float, seats: int = 1, limit: int | None = None
    ) -> tuple[str, datetime]:
        """A listing whose sale opens `opens_in` seconds from now (through the API: the sell
        form takes minutes only); its id, and the moment it opens."""
        on_sale_at = datetime.now(UTC) + timedelta(seconds=opens_in)
        body: dict[str, Any] = {
            "title": title, "price": "20", "quantity": seats, "onSaleAt": on_sale_at.isoformat(),
        }  # fmt: skip
        if limit is not None:
            body["perBuyerLimit"] = limit
        response = self.http.post("/api/tickets", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"]), on_sale_at

    def join_queue(self, ticket_id: str) -> httpx.Response:
        """Join from the ticket's page, with the room's challenge solved as the widget does."""
        challenge = self.get("/api/waitingroom/challenge")
        assert challenge.status_code == 200, challenge.text
        response: httpx.Response = self.submit(
            f"/tickets/{ticket_id}/queue",
            {"altcha": solved(challenge.json())},
            from_page=f"/tickets/{ticket_id}",
        )
        return response

    def close(self) -> None:
        self.http.close()


def reset_links(mail_dir: Path, email: str) -> list[str]:
    """The reset links mailed so far to `email`, oldest first (the stack keeps each mail as an
    .eml, as `tix mail` reads them)."""
    links = []
    for message in read_messages(mail_dir):
        if message["To"] != email:
            continue
        text = message.get_body(("plain",))
        assert text is not None, f"a mail to {email} without a text part"
        links += _RESET_LINK.findall(text.get_content())
    return links


def mailed_reset_link(mail_dir: Path, email: str, *, after: int = 0) -> str:
    """The reset link mailed to `email` once it arrives: the one after the first `after`."""
    links: list[str] = eventually(
        lambda: reset_links(mail_dir, email)[after:], 20, f"a reset link mailed to {email}"
    )
    return links[0]
