"""The orders service's data: its orders (owned, changed by compare-and-set) and its replica of
tickets (fed by ticket events under the next-version rule), with the count of seats it may
still sell, which it takes from and gives back to with each order, in the order's transaction."""

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

    async def add(self, order: Order, *, session: Session = None) -> None:
        await order.insert(session=session)

    async def seats_held(self, ticket_id: str) -> int:
        """The seats of the ticket's live and complete orders."""
        holders = Order.get_pymongo_collection().find(
            {"ticket.id": ticket_id, "holds_ticket": True}, {"quantity": 1}
        )
        return sum([order.get("quantity", 1) async for order in holders])

    async def retire_single_holder_index(self) -> None:
        """Seats are counted now; the index that allowed one holder per ticket would refuse the
        second buyer of a listing of many (at start, before any request)."""
        orders = Order.get_pymongo_collection()
        if _RETIRED_HOLDER_INDEX in await orders.index_information():
            await orders.drop_index(_RETIRED_HOLDER_INDEX)

    # Each change below is the order's next version, written only if nobody changed it since
    # this copy was read (else VersionConflict).

    async def complete(self, order: Order, *, session: Session = None) -> Order:
        return await order.compare_and_set({"status": OrderStatus.COMPLETE}, session=session)

    async def cancel(self, order: Order, *, session: Session = None) -> Order:
        """Cancelled, and no longer holding its ticket (another order may now take it)."""
        changes = {"status": OrderStatus.CANCELLED, "holds_ticket": False}
        return await order.compare_and_set(changes, session=session)


_RETIRED_HOLDER_INDEX = "one_holder_per_ticket"


class TicketReplicaRepository:
    async def get(self, ticket_id: ObjectId) -> TicketReplica | None:
        return await TicketReplica.get(ticket_id)

    async def take_seats(
        self, ticket_id: str, seats: int, *, session: Session = None
    ) -> int | None:
        """Take `seats` of the ticket's free ones, only if that many are free: one conditional
        write, so however many orders race, no more seats are taken than there are. The
        replica's version they were counted against, or None if too few were free."""
        taken = await TicketReplica.get_pymongo_collection().find_one_and_update(
            {"_id": ObjectId(ticket_id), "free": {"$gte": seats}},
            {"$inc": {"free": -seats}},
            projection={"version": 1},
            session=session,
        )
        return None if taken is None else int(taken["version"])

    async def give_back_seats(self, ticket_id: str, seats: int, *, session: Session) -> None:
        await TicketReplica.get_pymongo_collection().update_one(
            {"_id": ObjectId(ticket_id)}, {"$inc": {"free": seats}}, session=session
        )

    async def created(self, event: TicketCreated) -> ApplyResult:
        return await TicketReplica.insert_replica(
            TicketReplica(
                id=ObjectId(event.id),
                title=event.title,
                price_cents=to_cents(event.price),
                starts_at=event.starts_at,
                quantity=event.quantity,
                free=event.quantity,  # a new listing: no order of ours holds a seat yet
                version=event.version,
            )
        )

    async def updated(self, event: TicketUpdated) -> ApplyResult:
        current = await TicketReplica.get(ObjectId(event.id))
        if current is None or current.version < event.version - 1:
            return ApplyResult.NOT_YET
        if current.version >= event.version:
            return ApplyResult.ALREADY_APPLIED
        # Applied only over the version read here, so the change in seats is the right one.
        return await TicketReplica.apply_version(
            ObjectId(event.id),
            event.version,
            {
                "title": event.title,
                "price_cents": to_cents(event.price),
                "starts_at": event.starts_at,
                "quantity": event.quantity,
            },
            increments={"free": event.quantity - current.quantity},
        )

    async def count_free_seats(self, orders: OrderRepository) -> int:
        """Give `free` to replicas stored before seats were counted (at start, before any
        request; idempotent). How many were counted."""
        counted = 0
        async for replica in TicketReplica.find({"free": {"$exists": False}}):
            held = await orders.seats_held(str(replica.id))
            await TicketReplica.get_pymongo_collection().update_one(
                {"_id": replica.id, "free": {"$exists": False}},
                {"$set": {"quantity": replica.quantity, "free": replica.quantity - held}},
            )
            counted += 1
        return counted
