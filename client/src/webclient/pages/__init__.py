"""Every page of the site, behind one CSRF check for every form post."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from webclient.pages import account, auth, door, orders, password_reset, queue, tickets
from webclient.security import verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)], include_in_schema=False)
router.include_router(auth.router)
router.include_router(password_reset.router)
router.include_router(account.router)
router.include_router(tickets.router)
router.include_router(queue.router)
router.include_router(door.router)
router.include_router(orders.router)
