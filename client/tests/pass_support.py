"""What the passes' tests share: a listing, an order paid through the API as Stripe.js's page
does (with the test card's payment method), and a camera's video of a pass."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from tixtest.stack import eventually

# What Chromium's fake camera shows: a phone held a little way from a pass, 10 frames a second.
VIDEO_SIZE = (640, 480)
_FRAMES = 10


def list_seats(seller: httpx.Client, title: str, seats: int) -> str:
    """A listing of `seats` seats, through the API (the sell form is not what is tested)."""
    response = seller.post("/api/tickets", json={"title": title, "price": "30", "quantity": seats})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def paid_order(buyer: httpx.Client, ticket_id: str, seats: int) -> dict[str, Any]:
    """An order of `seats` seats, paid by card, once complete: its body, with its passes."""

    def place() -> Any:
        response = buyer.post("/api/orders", json={"ticketId": ticket_id, "quantity": seats})
        return response.json() if response.status_code == 201 else None

    order = eventually(place, 10, "order placed")  # the listing reaches orders in a moment

    def pay() -> httpx.Response | None:
        body = {"orderId": order["id"], "token": "pm_card_visa"}
        response = buyer.post("/api/payments", json=body)
        return response if response.status_code != 404 else None  # payments hears of it soon

    paid = eventually(pay, 10, "payment accepted")
    assert paid.status_code == 201, paid.text

    def complete() -> dict[str, Any] | None:
        body: dict[str, Any] = buyer.get(f"/api/orders/{order['id']}").json()
        return body if body["status"] == "complete" else None

    done: dict[str, Any] = eventually(complete, 15, "order complete")
    assert [issued["seat"] for issued in done["passes"]] == list(range(1, seats + 1))
    return done


def camera_video(qr_png: bytes, path: Path) -> Path:
    """A video of the QR code on white, as Chromium's fake camera reads it: YUV4MPEG2, 4:2:0,
    grey (every chroma sample 128), the same frame over and over (Chromium loops the file)."""
    code = Image.open(io.BytesIO(qr_png)).convert("L")
    frame = Image.new("L", VIDEO_SIZE, 255)
    frame.paste(code, ((VIDEO_SIZE[0] - code.width) // 2, (VIDEO_SIZE[1] - code.height) // 2))
    width, height = VIDEO_SIZE
    chroma = bytes([128]) * (width // 2 * height // 2 * 2)
    with path.open("wb") as video:
        video.write(f"YUV4MPEG2 W{width} H{height} F{_FRAMES}:1 Ip A1:1 C420\n".encode("ascii"))
        for _ in range(_FRAMES):
            video.write(b"FRAME\n" + frame.tobytes() + chroma)
    return path
