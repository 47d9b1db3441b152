"""The tickets service's data: its listings (owned, changed by compare-and-set) and its replica
of orders (fed by order events under the next-version rule)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession

from tickets.listing import ListingMemory, ListingScan
from tickets.metrics import LISTING_PAGE_QUERIES
from tickets.models import OrderReplica, Ticket
from tickets.schemas import ListingQuery
from tixcommon.db import ApplyResult
from tixcommon.events import OrderCreated, OrderStatus
from tixcommon.pages import PagePosition

Session = AsyncClientSession | None


class TicketRepository:
    def __init__(self) -> None:
        self._memory = ListingMemory()

    async def get(self, ticket_id: ObjectId, *, session: Session = None) -> Ticket | None:
        return await Ticket.get(ticket_id, session=session)

    async def listing_page(
        self, search: ListingQuery, after: PagePosition | None
    ) -> tuple[list[dict[str, Any]], PagePosition | None]:
        """Up to `search.limit` tickets for sale matching `search`, in its order, after `after`,
        as stored (the listing serialises them as they are), and where the next page starts
        (None on the last). Read interval by interval: see `tickets.listing`."""
        now = datetime.now(UTC)
        scan = ListingScan.of(search, now)
        axis, forward, end = scan.axis, scan.forward, scan.end
        known_end = self._memory.end(scan)

        def ahead(point: int, distance: int) -> int:
            far = min(end, point + distance) if forward else max(end, point - distance)
            # Past where the candidates ended when last read to the end: nothing is there but
            # what was listed since, so read it all in this interval rather than widen to it.
            return end if known_end is not None and scan.passes(far, known_end) else far

        start = near = scan.start(None if after is None else after.after)
        if after is not None and after.hint:
            span, far = after.hint, ahead(near, after.hint)
        else:
            # A first page: from the near end to as far as this query's first page reached
            # lately (or a page past where the listing began, or a day of listings).
            anchor, span = self._memory.first_page(scan) or axis.first_interval(now)
            far = ahead(anchor if anchor is not None else near, span)
        collection = Ticket.get_pymongo_collection()
        wanted = search.limit + 1  # one more than shown tells whether a next page exists
        # The server reads a whole interval whatever the limit: a filtered read takes all it
        # can use, an unfiltered one a page (its interval is about that wide).
        batch = wanted if scan.unfiltered else _BATCH_MAX
        found: list[dict[str, Any]] = []
        last: int | None = None  # the last candidate read
        queries = 0
        while len(found) < wanted:
            low, high = (near, far) if forward else (far, near)
            read: list[dict[str, Any]] = []
            if low < high:
                cursor = collection.find(
                    scan.query(low, high), sort=[(axis.field, axis.direction)], limit=batch
                )
                read = await cursor.to_list()
                queries += 1
            if read:
                last = axis.point(read[-1][axis.field])
            matched = [ticket for ticket in read if scan.matches(ticket)]
            found.extend(matched)
            if len(read) == batch:
                # The interval holds more: go on after the last one read, in intervals as wide
                # as this read turned out to be.
                first = axis.point(read[0][axis.field])
                assert last is not None
                near, span = (last + 1 if forward else last), abs(last - first) + 1
            elif far == end:
                # Read to the end: the candidates end at the last one read (at the scan's
                # start if it read none).
                self._memory.learn_end(scan, start if last is None else last)
                break
            elif matched:
                # As wide as the matches found here say the rest needs, and a little.
                needed = span * (wanted - len(found)) // len(matched)
                near, span = far, min(needed + needed // 4 + 1, span * 16)
            else:
                near, span = far, max(span * 4, axis.unit)
            far = ahead(near, span)
        LISTING_PAGE_QUERIES.observe(queries)
        page = found[: search.limit]
        if len(found) <= search.limit:
            if after is None:
                # A short first page: the next one like it reads to the end in one query.
                anchor = None if not page else axis.point(page[0][axis.field])
                self._memory.learn_first_page(
                    scan, anchor, abs(end - (start if anchor is None else anchor)) + 1
                )
            return page, None
        # The next page's first interval: as wide as this page turned out to be, and a little.
        first, last = axis.point(page[0][axis.field]), axis.point(page[-1][axis.field])
        extent = abs(last - first)
        hint = extent + extent // 4 + 1
        if after is None:
            # The next first page is this one again, most likely: exactly as wide as what it
            # read to (the next page's first ticket included), since a margin on ids created
            # faster than a second apart can reach a whole second's tickets further.
            reached = axis.point(found[search.limit][axis.field])
            self._memory.learn_first_page(scan, first, abs(reached - first) + 1)
        return page, PagePosition(str(page[-1][axis.field]), hint)

    async def of_seller(self, seller_id: str) -> list[Ticket]:
        """Newest first, reserved and sold ones included."""
        return await Ticket.find(Ticket.user_id == seller_id).sort("-_id").to_list()

    async def add(self, ticket: Ticket, *, session: Session = None) -> None:
        await ticket.insert(session=session)

    # Each change below is the ticket's next version, written only if nobody changed it since
    # this copy was read (else VersionConflict).

    async def edit(
        self, ticket: Ticket, changes: dict[str, Any], *, session: Session = None
    ) -> Ticket:
        """`changes`: the seller's fields, `None` for an event field to clear."""
        edited = ticket.model_copy(update=changes)
        return await ticket.compare_and_set({**changes, **edited.listing_fields()}, session=session)

    async def mark_listings(self) -> int:
        """Give `for_sale` and the listing's keys to tickets stored before they existed (at
        start, before any request: idempotent, so replicas starting together agree). How many
        were marked."""
        tickets = Ticket.get_pymongo_collection()
        marked = 0
        for held, for_sale in (({"$eq": None}, True), ({"$ne": None}, False)):
            result = await tickets.update_many(
                {"for_sale": {"$exists": False}, "order_id": held},
                {"$set": {"for_sale": for_sale}},
            )
            marked += result.modified_count
        # Search reads its own indexes now; the one it read before would only slow writes.
        if _RETIRED_SEARCH_INDEX in await tickets.index_information():
            await tickets.drop_index(_RETIRED_SEARCH_INDEX)
        # Seats for tickets stored before they existed: one, held by the order named.
        async for document in tickets.find({"held": {"$exists": False}}, {"order_id": 1}):
            holder = document.get("order_id")
            await tickets.update_one(
                {"_id": document["_id"]},
                {"$set": {"quantity": 1, "held": 0 if holder is None else 1}},
            )
            if holder is not None:
                await OrderReplica.get_pymongo_collection().update_one(
                    {"_id": ObjectId(holder)}, {"$set": {"seats_taken": True}}
                )
            marked += 1
        # And the listing's keys to tickets stored before pages and search existed.
        async for document in tickets.find({"price_key": {"$exists": False}}):
            ticket = Ticket.model_validate(document)
            await tickets.update_one({"_id": ticket.id}, {"$set": ticket.listing_fields()})
            marked += 1
        return marked


_RETIRED_SEARCH_INDEX = "for_sale_by_terms"
# Past this, a read's answer costs more to decode than another read costs.
_BATCH_MAX = 1_000


class OrderReplicaRepository:
    async def get(self, order_id: ObjectId, *, session: Session = None) -> OrderReplica | None:
        return await OrderReplica.get(order_id, session=session)

    async def created(self, event: OrderCreated, *, session: Session = None) -> ApplyResult:
        return await OrderReplica.insert_replica(
            OrderReplica(
                id=ObjectId(event.id),
                ticket_id=event.ticket.id,
                status=event.status,
                version=event.version,
                quantity=event.quantity,
            ),
            session=session,
        )

    async def count_seats(self, order_id: str, *, taken: bool, session: Session = None) -> None:
        """Record that the order's seats are (or no longer are) counted in its ticket's."""
        await OrderReplica.get_pymongo_collection().update_one(
            {"_id": ObjectId(order_id)}, {"$set": {"seats_taken": taken}}, session=session
        )

    async def holder_of(self, ticket_id: str, *, session: Session = None) -> str | None:
        """The order whose seats are counted in this ticket's, when there is just one."""
        holders = OrderReplica.get_pymongo_collection().find(
            {"ticket_id": ticket_id, "seats_taken": True}, {"_id": 1}, limit=2, session=session
        )
        found = [str(order["_id"]) async for order in holders]
        return found[0] if len(found) == 1 else None

    async def moved_to(
        self, order_id: str, version: int, status: OrderStatus, *, session: Session = None
    ) -> ApplyResult:
        return await OrderReplica.apply_version(
            ObjectId(order_id), version, {"status": status.value}, session=session
        )

    async def seats_sold(self, ticket_ids: list[str]) -> dict[str, int]:
        """The seats of each ticket's complete orders, in one query."""
        if not ticket_ids:
            return {}
        cursor = OrderReplica.get_pymongo_collection().find(
            {
                "ticket_id": {"$in": ticket_ids},
                "status": OrderStatus.COMPLETE.value,
                "seats_taken": True,
            },
            {"ticket_id": 1, "quantity": 1},
        )
        sold: dict[str, int] = {}
        async for order in cursor:
            sold[order["ticket_id"]] = sold.get(order["ticket_id"], 0) + order.get("quantity", 1)
        return sold
