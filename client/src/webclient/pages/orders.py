"""A buyer's orders: the list, one order with its countdown and card form (or, once paid, its
passes), the passes' PDF, and cancelling."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from webclient.api import ApiSession
from webclient.dependencies import Api, Render, SignedIn
from webclient.passes import inline_qr
from webclient.schemas import Order

router = APIRouter(prefix="/orders")


@router.get("", response_class=HTMLResponse)
async def my_orders(request: Request, render: Render, api: Api, user: SignedIn) -> Response:
    orders = await api.orders()
    paid_id = request.query_params.get("paid")
    paid = next((order for order in orders if order.id == paid_id), None)
    context = {"title": "My orders", "orders": list(reversed(orders)), "paid": paid}
    return render.render(request, "orders/index.html", context, user=user)


async def _qr_codes(api: ApiSession, order: Order) -> list[str]:
    """Each pass's QR code as markup for the page, in the passes' order."""
    svgs = await asyncio.gather(*(api.pass_qr_svg(order.id, shown.id) for shown in order.passes))
    return [
        inline_qr(svg, f"QR code of seat {shown.seat}")
        for shown, svg in zip(order.passes, svgs, strict=True)
    ]


@router.get("/{order_id}", response_class=HTMLResponse)
async def show_order(
    request: Request, render: Render, api: Api, user: SignedIn, order_id: str
) -> Response:
    order = await api.order(order_id)
    context = {"title": "Your order", "order": order, "qr_codes": await _qr_codes(api, order)}
    return render.render(request, "orders/show.html", context, user=user)


@router.get("/{order_id}/passes.pdf")
async def passes_pdf(api: Api, user: SignedIn, order_id: str) -> Response:
    """Orders' PDF of the passes, from the client's own pages: a visitor signed out is sent to
    sign in and brought back to the download, and a refusal is a page, not the API's JSON."""
    document = await api.passes_pdf(order_id)
    return Response(
        document.content,
        media_type="application/pdf",
        headers={
            # Orders names the file (an attachment, with the order's id).
            "content-disposition": document.headers["content-disposition"],
            "cache-control": "private, no-store",
        },
    )


@router.post("/{order_id}/cancel")
async def cancel_order(api: Api, user: SignedIn, order_id: str) -> Response:
    await api.cancel_order(order_id)
    return RedirectResponse(f"/orders/{order_id}", status_code=303)
