"""Who is calling: the client's address as the routers in front of us saw it."""

from __future__ import annotations

from fastapi import Request


def client_address(request: Request, trusted_hops: int) -> str:
    """The caller's address: `trusted_hops` entries from the right of X-Forwarded-For (each
    router in front of us appends the address it saw), else the TCP peer. Entries further left
    are written by the client and cannot be trusted."""
    peer = request.client.host if request.client else "unknown"
    if trusted_hops <= 0:
        return peer
    forwarded = [
        part.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for part in header.split(",")
        if part.strip()
    ]
    if len(forwarded) >= trusted_hops:
        return forwarded[-trusted_hops]
    return forwarded[0] if forwarded else peer
