"""A buyer's orders: the list, one order with its countdown and card form, and cancelling."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from webclient.dependencies import Api, Render, SignedIn

router = APIRouter(prefix="/orders")


@router.get("", response_class=HTMLResponse)
async def my_orders(request: Request, render: Render, api: Api, user: SignedIn) -> Response:
    orders = await api.orders()
    paid_id = request.query_params.get("paid")
    paid = next((order for order in orders if order.id == paid_id), None)
    context = {"title": "My orders", "orders": list(reversed(orders)), "paid": paid}
    return render.render(request, "orders/index.html", context, user=user)


@router.get("/{order_id}", response_class=HTMLResponse)
async def show_order(
    request: Request, render: Render, api: Api, user: SignedIn, order_id: str
) -> Response:
    order = await api.order(order_id)
    return render.render(
        request, "orders/show.html", {"title": "Your order", "order": order}, user=user
    )


@router.post("/{order_id}/cancel")
async def cancel_order(api: Api, user: SignedIn, order_id: str) -> Response:
    await api.cancel_order(order_id)
    return RedirectResponse(f"/orders/{order_id}", status_code=303)
