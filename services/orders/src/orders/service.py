"""An order's life: created, then complete or cancelled; every step stored with its event.

Transitions are guarded here, in one place: a complete order cannot be cancelled, a cancelled
one cannot be completed, and each writes the next version only if nobody moved first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bson import ObjectId

from orders.metrics import (
    ORDERS_CANCELLED,
    ORDERS_COMPLETED,
    ORDERS_CREATED,
    PASSES_ISSUED,
    RESERVATION_CONFLICTS,
)
from orders.models import Order, OrderedTicket, Pass, TicketReplica
from orders.pass_mail import ORDER_COMPLETE, mail_key
from orders.passes import PassBook
from orders.repository import BuyerSeatsRepository, OrderRepository, TicketReplicaRepository
from tixcommon.admission import AdmissionCodec
from tixcommon.auth import UserClaims
from tixcommon.bus import Outbox, Outcome, Transaction
from tixcommon.db import retry_on_conflict
from tixcommon.errors import BadRequest, Forbidden, NotAuthorized, NotFound
from tixcommon.events import (
    ExpirationComplete,
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    OrderStatus,
    PaymentCreated,
    TicketPrice,
    TicketRef,
)
from tixcommon.fields import to_milliseconds
from tixcommon.locks import KeyedLocks
from tixcommon.mail import MailRelay
from tixcommon.money import to_dollars

ALREADY_RESERVED = "Ticket is already reserved"
NOT_ENOUGH_SEATS = "Not enough seats available"
STARTED = "Event has already started"
STARTS_TOO_SOON = "Event starts in less than a minute"
NOT_ON_SALE = "Sales have not started"
NOT_ADMITTED = "Join the waiting room first"
COMPLETE = "Cannot cancel a completed order"
# A reservation that would lapse sooner than this cannot be paid for: refused as too late.
TIME_TO_PAY = timedelta(minutes=1)
LIVE_STATUSES = frozenset({OrderStatus.CREATED, OrderStatus.AWAITING_PAYMENT})


class OrderNotFound(LookupError):
    pass


class _SeatsGone(Exception):
    """Another order took the seats first: the transaction stores nothing."""


class _OverLimit(Exception):
    """The buyer's orders hold too many seats of the ticket: the transaction stores nothing."""

    def __init__(self, limit: int) -> None:
        self.limit = limit


def over_limit(limit: int) -> BadRequest:
    return BadRequest(f"At most {limit} seats per buyer", field="quantity")


def _no_seats(ticket: TicketReplica) -> BadRequest:
    RESERVATION_CONFLICTS.inc()
    if ticket.quantity == 1:
        return BadRequest(ALREADY_RESERVED, field="ticketId")
    return BadRequest(NOT_ENOUGH_SEATS, field="quantity")


@dataclass
class OrderService:
    outbox: Outbox
    expiration_window: timedelta
    orders: OrderRepository
    tickets: TicketReplicaRepository
    buyers: BuyerSeatsRepository
    admissions: AdmissionCodec
    passes: PassBook
    mail: MailRelay
    placing: KeyedLocks = field(default_factory=KeyedLocks)

    async def place(
        self,
        buyer: UserClaims,
        ticket_id: ObjectId,
        seats: int = 1,
        *,
        admission: str | None = None,
    ) -> Order:
        """`admission`: the waiting room's, which a ticket with an on-sale requires."""
        # Buyers of one listing in turn (in this process): a rush on one listing is then one
        # conditional write after another, not a storm of conflicting transactions.
        async with self.placing.hold(str(ticket_id)):
            return await self._place(buyer, ticket_id, seats, admission)

    async def _place(
        self, buyer: UserClaims, ticket_id: ObjectId, seats: int, admission: str | None
    ) -> Order:
        ticket = await self.tickets.get(ticket_id)
        if ticket is None:
            raise NotFound()
        now = datetime.now(UTC)
        if ticket.on_sale_at is not None and now < ticket.on_sale_at:
            raise BadRequest(NOT_ON_SALE, field="ticketId")
        expires_at = now + self.expiration_window
        if ticket.starts_at is not None:
            if ticket.starts_at <= now:
                raise BadRequest(STARTED, field="ticketId")
            if ticket.starts_at - now < TIME_TO_PAY:
                raise BadRequest(STARTS_TOO_SOON, field="ticketId")
            # A reservation never outlives the event it is for.
            expires_at = min(expires_at, ticket.starts_at)
        # The room hands out admissions at its rate; checked here with one MAC, no call to it.
        if ticket.on_sale_at is not None and not (
            admission is not None
            and self.admissions.verify(admission, user_id=buyer.id, ticket_id=str(ticket.id))
        ):
            raise Forbidden(NOT_ADMITTED)
        if ticket.per_buyer_limit is not None and seats > ticket.per_buyer_limit:
            raise over_limit(ticket.per_buyer_limit)
        # A cheap early "no" for the losers of a race once the winners have committed; the
        # conditional write below, not this read, is what makes the reservation atomic.
        if ticket.free < seats:
            raise _no_seats(ticket)
        order = Order(
            user_id=buyer.id,
            buyer_email=buyer.email,
            status=OrderStatus.CREATED,
            expires_at=to_milliseconds(expires_at),
            ticket=OrderedTicket(
                id=str(ticket.id), title=ticket.title, price_cents=ticket.price_cents
            ),
            quantity=seats,
        )

        async def work(tx: Transaction) -> None:
            # The reservation: seats taken only if that many are free, in the transaction
            # that stores the order, so an order exists exactly when its seats are taken.
            taken = await self.tickets.take_seats(order.ticket.id, seats, session=tx.session)
            if taken is None:
                raise _SeatsGone()
            # The limit as the seats were taken (not as read above), against the buyer's count.
            if not await self.buyers.take(
                buyer.id, order.ticket.id, seats, taken, session=tx.session
            ):
                assert taken.per_buyer_limit is not None  # only a limit refuses
                raise _OverLimit(taken.per_buyer_limit)
            await self.orders.add(order, session=tx.session)
            tx.publish(
                OrderCreated(
                    id=str(order.id),
                    version=order.version,
                    status=order.status,
                    user_id=order.user_id,
                    expires_at=order.expires_at,
                    ticket=TicketPrice(
                        id=order.ticket.id,
                        price=to_dollars(order.ticket.price_cents),
                        version=taken.version,
                    ),
                    quantity=order.quantity,
                )
            )

        try:
            await self.outbox.run(work)
        except _SeatsGone:
            raise _no_seats(ticket) from None
        except _OverLimit as refused:
            raise over_limit(refused.limit) from None
        ORDERS_CREATED.inc()
        return order

    async def mine(self, buyer: UserClaims) -> list[Order]:
        return await self.orders.of_buyer(buyer.id)

    async def passes_of(self, orders: list[Order]) -> dict[str, list[Pass]]:
        """The passes of each order (none until it is complete)."""
        return await self.passes.of_orders(
            [order for order in orders if order.status is OrderStatus.COMPLETE]
        )

    async def get_for(self, buyer: UserClaims, order_id: ObjectId) -> Order:
        order = await self.orders.get(order_id)
        if order is None:
            raise NotFound()
        if order.user_id != buyer.id:
            raise NotAuthorized()
        return order

    async def cancel_by_buyer(self, buyer: UserClaims, order_id: ObjectId) -> None:
        async def attempt() -> None:
            order = await self.get_for(buyer, order_id)
            if order.status is OrderStatus.COMPLETE:
                raise BadRequest(COMPLETE)
            if order.status is OrderStatus.CANCELLED:
                return  # cancelling twice is harmless
            await self._cancel(order, reason="buyer")

        await retry_on_conflict(attempt)

    async def expire(self, expiry: ExpirationComplete) -> Outcome:
        """The reservation's time is up: cancel unless it was paid (or cancelled) meanwhile."""
        order_id = ObjectId(expiry.order_id)

        async def attempt() -> None:
            order = await self.orders.get(order_id)
            if order is None:
                raise OrderNotFound(f"expiration for unknown order {order_id}")
            if order.status in LIVE_STATUSES:
                await self._cancel(order, reason="expiry")

        await retry_on_conflict(attempt)
        return Outcome.ACK

    async def complete(self, payment: PaymentCreated) -> Outcome:
        """A payment was made: the order is complete, with its passes (stored in the same
        transaction, so a complete order always has them, and a redelivery issues none: the
        order is no longer live). A cancelled order is not revived: payments refunds that
        charge when it hears of the cancel."""

        async def attempt() -> None:
            order = await self.orders.get(ObjectId(payment.order_id))
            if order is None:
                raise OrderNotFound(f"payment for unknown order {payment.order_id}")
            if order.status not in LIVE_STATUSES:
                return

            async def work(tx: Transaction) -> None:
                done = await self.orders.complete(order, session=tx.session)
                await self.passes.issue(done, session=tx.session)
                # The buyer's mail, queued with the completion: sent exactly when it commits.
                if done.buyer_email is not None:
                    await self.mail.queue.queue_mail(
                        tx,
                        key=mail_key(done),
                        kind=ORDER_COMPLETE,
                        to=done.buyer_email,
                        params={"orderId": str(done.id)},
                    )
                tx.publish(
                    OrderCompleted(
                        id=str(done.id), version=done.version, ticket=TicketRef(id=done.ticket.id)
                    )
                )

            await self.outbox.run(work)
            self.mail.wake()
            ORDERS_COMPLETED.inc()
            PASSES_ISSUED.inc(order.quantity)

        await retry_on_conflict(attempt)
        return Outcome.ACK

    async def _cancel(self, order: Order, *, reason: str) -> None:
        async def work(tx: Transaction) -> None:
            cancelled = await self.orders.cancel(order, session=tx.session)
            # Its seats are free again, once: the cancel above commits with this or not at all.
            counts = await self.tickets.give_back_seats(
                order.ticket.id, order.quantity, session=tx.session
            )
            await self.buyers.give_back(
                order.user_id, order.ticket.id, order.quantity, counts, session=tx.session
            )
            tx.publish(
                OrderCancelled(
                    id=str(cancelled.id),
                    version=cancelled.version,
                    ticket=TicketRef(id=cancelled.ticket.id),
                )
            )

        await self.outbox.run(work)
        ORDERS_CANCELLED.labels(reason).inc()
