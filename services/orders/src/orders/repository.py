"""The orders service's data: its orders (owned, changed by compare-and-set, one live holder
per ticket by a unique index) and its replica of tickets (fed by ticket events under the
next-version rule)."""

from __future__ import annotations

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession

from orders.models import Order, TicketReplica
from tixcommon.db import ApplyResult
from tixcommon.events import OrderStatus, TicketCreated, TicketUpdated
from tixcommon.money import to_cents

Session = AsyncClientSession | None


class OrderRepository:
    async def get(self, order_id: ObjectId) -> Order | None:
        return await Order.get(order_id)

    async def of_buyer(self, buyer_id: str) -> list[Order]:
        return await Order.find(Order.user_id == buyer_id).sort("_id").to_list()

    async def held(self, ticket_id: str) -> bool:
        """Whether a live or complete order holds the ticket now."""
        holder = await Order.find_one({"ticket.id": ticket_id, "holds_ticket": True})
        return holder is not None

    async def add(self, order: Order, *, session: Session = None) -> None:
        """Store a new order; DuplicateKeyError if another order holds its ticket."""
        await order.insert(session=session)

    # Each change below is the order's next version, written only if nobody changed it since
    # this copy was read (else VersionConflict).

    async def complete(self, order: Order, *, session: Session = None) -> Order:
        return await order.compare_and_set({"status": OrderStatus.COMPLETE}, session=session)

    async def cancel(self, order: Order, *, session: Session = None) -> Order:
        """Cancelled, and no longer holding its ticket (another order may now take it)."""
        changes = {"status": OrderStatus.CANCELLED, "holds_ticket": False}
        return await order.compare_and_set(changes, session=session)


class TicketReplicaRepository:
    async def get(self, ticket_id: ObjectId) -> TicketReplica | None:
        return await TicketReplica.get(ticket_id)

    async def created(self, event: TicketCreated) -> ApplyResult:
        return await TicketReplica.insert_replica(
            TicketReplica(
                id=ObjectId(event.id),
                title=event.title,
                price_cents=to_cents(event.price),
                starts_at=event.starts_at,
                version=event.version,
            )
        )

    async def updated(self, event: TicketUpdated) -> ApplyResult:
        return await TicketReplica.apply_version(
            ObjectId(event.id),
            event.version,
            {
                "title": event.title,
                "price_cents": to_cents(event.price),
                "starts_at": event.starts_at,
            },
        )
