"""The orders service's data: its orders (owned, changed by compare-and-set) and its replica of
tickets (fed by ticket events under the next-version rule), with the count of seats it may
still sell, which it takes from and gives back to with each order, in the order's transaction,
and each account's count of its seats of a ticket with a per-buyer limit, kept the same way;
and the passes of complete orders, checked in by one conditional write each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from orders.models import BUYER_SEATS, BuyerCounts, Order, Pass, PassStatus, TicketReplica
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

    async def seats_of_buyer(self, buyer_id: str, ticket_id: str, *, session: Session) -> int:
        """The seats of the buyer's live and complete orders of the ticket (by the buyer's
        orders' index: an account has few)."""
        holders = Order.get_pymongo_collection().find(
            {"user_id": buyer_id, "ticket.id": ticket_id, "holds_ticket": True},
            {"quantity": 1},
            session=session,
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


@dataclass(frozen=True)
class SeatsTaken:
    """What the replica said as an order's seats were taken: the version they were counted
    against, and the per-buyer limit then (read by the write, so no edit can slip between)."""

    version: int
    per_buyer_limit: int | None
    buyer_counts: BuyerCounts


_AT_WRITE = {"version": 1, "per_buyer_limit": 1, "buyer_counts": 1}


def _buyer_counts(replica: dict[str, object] | None) -> BuyerCounts:
    # Replicas stored before per-buyer limits have no `buyer_counts`: none were counted.
    return BuyerCounts(str((replica or {}).get("buyer_counts", BuyerCounts.NONE)))


class TicketReplicaRepository:
    async def get(self, ticket_id: ObjectId) -> TicketReplica | None:
        return await TicketReplica.get(ticket_id)

    async def take_seats(
        self, ticket_id: str, seats: int, *, session: Session = None
    ) -> SeatsTaken | None:
        """Take `seats` of the ticket's free ones, only if that many are free: one conditional
        write, so however many orders race, no more seats are taken than there are. None if
        too few were free."""
        taken = await TicketReplica.get_pymongo_collection().find_one_and_update(
            {"_id": ObjectId(ticket_id), "free": {"$gte": seats}},
            {"$inc": {"free": -seats}},
            projection=_AT_WRITE,
            session=session,
        )
        if taken is None:
            return None
        limit = taken.get("per_buyer_limit")
        return SeatsTaken(
            int(taken["version"]), None if limit is None else int(limit), _buyer_counts(taken)
        )

    async def give_back_seats(self, ticket_id: str, seats: int, *, session: Session) -> BuyerCounts:
        """Give the seats back; whether the ticket counts its buyers' seats (then theirs are
        given back too, in the same transaction)."""
        replica = await TicketReplica.get_pymongo_collection().find_one_and_update(
            {"_id": ObjectId(ticket_id)},
            {"$inc": {"free": seats}},
            projection={"buyer_counts": 1},
            session=session,
        )
        return _buyer_counts(replica)

    async def created(self, event: TicketCreated) -> ApplyResult:
        return await TicketReplica.insert_replica(
            TicketReplica(
                id=ObjectId(event.id),
                title=event.title,
                price_cents=to_cents(event.price),
                starts_at=event.starts_at,
                quantity=event.quantity,
                free=event.quantity,  # a new listing: no order of ours holds a seat yet
                on_sale_at=event.on_sale_at,
                per_buyer_limit=event.per_buyer_limit,
                venue=event.venue,
                seller_id=event.user_id,
                buyer_counts=(
                    BuyerCounts.NONE if event.per_buyer_limit is None else BuyerCounts.FROM_LISTING
                ),
                version=event.version,
            )
        )

    async def updated(self, event: TicketUpdated) -> ApplyResult:
        current = await TicketReplica.get(ObjectId(event.id))
        if current is None or current.version < event.version - 1:
            return ApplyResult.NOT_YET
        if current.version >= event.version:
            return ApplyResult.ALREADY_APPLIED
        counts = current.buyer_counts
        if counts is BuyerCounts.NONE and event.per_buyer_limit is not None:
            counts = BuyerCounts.SINCE_LIMIT
        # Applied only over the version read here, so the change in seats is the right one (and
        # whether buyers were counted before it).
        return await TicketReplica.apply_version(
            ObjectId(event.id),
            event.version,
            {
                "title": event.title,
                "price_cents": to_cents(event.price),
                "starts_at": event.starts_at,
                "quantity": event.quantity,
                "on_sale_at": event.on_sale_at,
                "per_buyer_limit": event.per_buyer_limit,
                "venue": event.venue,
                "seller_id": event.user_id,
                "buyer_counts": counts.value,
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


class BuyerSeatsRepository:
    """Each account's seats of each ticket that counts them, taken with the order's seats and
    given back with its cancel, in the same transactions. Each of those transactions also writes
    the ticket's replica (its `free`), so two of one ticket never both commit from one snapshot
    (the later writer meets a write conflict, and the driver runs it again on a fresh one): what
    one reads here (a count, or the orders a first count starts from) nothing else changes
    before it commits, and no other starts the same count meanwhile."""

    def __init__(self, orders: OrderRepository) -> None:
        self._orders = orders

    async def take(
        self, buyer_id: str, ticket_id: str, seats: int, taken: SeatsTaken, *, session: Session
    ) -> bool:
        """Count `seats` more for the buyer, only if that keeps the buyer within the ticket's
        limit (False, counting nothing, if not). One conditional write in the usual case."""
        if taken.buyer_counts is BuyerCounts.NONE:
            return True
        key = f"{buyer_id}:{ticket_id}"
        collection = _buyer_seats()
        limit = taken.per_buyer_limit
        if limit is None:  # lifted: still counted, should it be set again
            upsert = taken.buyer_counts is BuyerCounts.FROM_LISTING
            await collection.update_one(
                {"_id": key}, {"$inc": {"held": seats}}, upsert=upsert, session=session
            )
            return True
        if seats > limit:
            return False
        within = {"_id": key, "held": {"$lte": limit - seats}}
        if taken.buyer_counts is BuyerCounts.FROM_LISTING:
            # A buyer with no count holds nothing: the upsert starts one. Over the limit, the
            # filter misses the count there is and the insert its key: a duplicate-key error
            # (MongoDB retries an upsert's duplicate key only for a filter of equalities).
            try:
                await collection.update_one(
                    within, {"$inc": {"held": seats}}, upsert=True, session=session
                )
            except DuplicateKeyError:
                return False
            return True
        counted = await collection.update_one(within, {"$inc": {"held": seats}}, session=session)
        if counted.matched_count == 1:
            return True
        if await collection.find_one({"_id": key}, {"_id": 1}, session=session) is not None:
            return False
        # The buyer's first count since the limit was set: from what its orders hold.
        held = await self._orders.seats_of_buyer(buyer_id, ticket_id, session=session)
        if held + seats > limit:
            return False
        await collection.insert_one({"_id": key, "held": held + seats}, session=session)
        return True

    async def give_back(
        self, buyer_id: str, ticket_id: str, seats: int, counts: BuyerCounts, *, session: Session
    ) -> None:
        """The order's seats are no longer the buyer's. A ticket counted since its limit was
        set may have no count for the buyer yet: then the order is in none (its first count
        will start from the orders that still hold seats)."""
        if counts is BuyerCounts.NONE:
            return
        await _buyer_seats().update_one(
            {"_id": f"{buyer_id}:{ticket_id}"}, {"$inc": {"held": -seats}}, session=session
        )


def _buyer_seats() -> AsyncCollection[dict[str, Any]]:
    return Order.get_pymongo_collection().database[BUYER_SEATS]


class PassRepository:
    async def add(self, passes: list[Pass], *, session: Session) -> None:
        await Pass.insert_many(passes, session=session)

    async def of_orders(self, order_ids: list[str]) -> dict[str, list[Pass]]:
        """Each order's passes, seat by seat: one query for all of them."""
        found: dict[str, list[Pass]] = {order_id: [] for order_id in order_ids}
        if not order_ids:
            return found
        async for issued in Pass.find({"order_id": {"$in": order_ids}}).sort("seat"):
            found[issued.order_id].append(issued)
        return found

    async def get(self, pass_id: ObjectId) -> Pass | None:
        return await Pass.get(pass_id)

    async def counts(self, ticket_id: str) -> tuple[int, int]:
        """The ticket's passes issued, and those checked in."""
        passes = Pass.get_pymongo_collection()
        issued = await passes.count_documents({"ticket_id": ticket_id})
        checked_in = await passes.count_documents(
            {"ticket_id": ticket_id, "status": PassStatus.CHECKED_IN.value}
        )
        return issued, checked_in

    async def check_in(self, pass_id: ObjectId, at: datetime, nonce: str | None) -> bool:
        """Checked in only if it was not yet: one conditional write, so of two scanners racing
        for one pass exactly one succeeds. False if it was not valid (or does not exist).

        An update, not a find-and-modify: the answer is known without the document, and the
        MongoDB-wire server we test on scans the whole collection for a find-and-modify (225
        ms at 9,000 passes, against 1.8 ms for this)."""
        changed = await Pass.get_pymongo_collection().update_one(
            {"_id": pass_id, "status": PassStatus.VALID.value},
            {
                "$set": {
                    "status": PassStatus.CHECKED_IN.value,
                    "checked_in_at": at,
                    "check_in_nonce": nonce,
                }
            },
        )
        return changed.modified_count == 1
