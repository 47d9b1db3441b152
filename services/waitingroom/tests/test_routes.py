"""The waiting room through HTTP, as a buyer meets it: the challenge, joining, the place."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import httpx
import pytest
from bson import ObjectId
from room_kit import ADMISSION_SECONDS, DIFFICULTY, Clock, Join, ListSale, SetAvailable, solve_for

from tixcommon.admission import AdmissionCodec
from tixcommon.bus import Publisher
from tixcommon.events import OrderCreated, OrderStatus, TicketPrice
from tixtest import SignedInUser, wait_until
from waitingroom.service import WaitingRoom


async def place_of(client: httpx.AsyncClient, user: SignedInUser, ticket_id: str) -> Any:
    answer = await client.get(f"/api/waitingroom/{ticket_id}", headers=user.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_the_challenge_is_altchas_and_needs_a_session(
    client: httpx.AsyncClient, buyer: SignedInUser
) -> None:
    assert (await client.get("/api/waitingroom/challenge")).status_code == 401
    challenge = (await client.get("/api/waitingroom/challenge", headers=buyer.headers)).json()
    assert set(challenge) == {"algorithm", "challenge", "maxnumber", "salt", "signature"}
    assert challenge["algorithm"] == "SHA-256"
    assert challenge["maxnumber"] == DIFFICULTY


async def test_joining_before_the_sale_gives_a_place_drawn_at_its_start(
    client: httpx.AsyncClient, buyer: SignedInUser, list_sale: ListSale, join: Join
) -> None:
    sale = await list_sale(starts_in=60)
    joined = await join(buyer, sale.id)
    assert joined.status_code == 201, joined.text
    place = joined.json()
    assert place["status"] == "waiting"
    assert place["position"] is None
    assert place["ahead"] is None
    assert place["drawAt"] == sale.on_sale_at.isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )
    assert place["estimatedWaitSeconds"] == 60
    assert place["refreshSeconds"] >= 2
    assert "admission" not in place
    asked = await place_of(client, buyer, sale.id)
    # The same place; only the advice on when to ask again is jittered, answer by answer.
    assert {**asked, "refreshSeconds": 0} == {**place, "refreshSeconds": 0}


async def test_joining_again_is_the_same_place(
    client: httpx.AsyncClient, buyer: SignedInUser, list_sale: ListSale, join: Join
) -> None:
    sale = await list_sale(starts_in=-1)
    first = await join(buyer, sale.id)
    again = await join(buyer, sale.id)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["position"] == again.json()["position"] == 1


async def test_a_place_is_asked_for_by_its_holder_only(
    client: httpx.AsyncClient,
    buyer: SignedInUser,
    make_user: Callable[..., SignedInUser],
    list_sale: ListSale,
    join: Join,
) -> None:
    sale = await list_sale()
    await join(buyer, sale.id)
    stranger = make_user()
    answer = await client.get(f"/api/waitingroom/{sale.id}", headers=stranger.headers)
    assert answer.status_code == 404
    assert (await client.get(f"/api/waitingroom/{sale.id}")).status_code == 401


@pytest.mark.parametrize("ticket_id", [str(ObjectId()), "not-an-id"])
async def test_joining_a_room_that_does_not_exist_is_refused(
    client: httpx.AsyncClient, buyer: SignedInUser, join: Join, ticket_id: str
) -> None:
    answer = await join(buyer, ticket_id)
    assert answer.status_code in {400, 404}
    if ticket_id != "not-an-id":
        assert answer.json() == {"errors": [{"message": "Not Found"}]}


async def test_the_room_opens_half_an_hour_before_the_sale(
    client: httpx.AsyncClient, buyer: SignedInUser, list_sale: ListSale, join: Join
) -> None:
    sale = await list_sale(starts_in=1801)
    answer = await join(buyer, sale.id)
    assert answer.status_code == 400
    assert answer.json() == {"errors": [{"message": "Waiting room is not open yet"}]}
    assert (
        await client.get(f"/api/waitingroom/{sale.id}", headers=buyer.headers)
    ).status_code == 404


def _forged(solution: str, **changes: object) -> str:
    payload = json.loads(base64.b64decode(solution))
    return base64.b64encode(json.dumps({**payload, **changes}).encode()).decode()


@pytest.mark.parametrize(
    "mangle",
    [
        lambda solution: "",
        lambda solution: "not base64 at all!",
        lambda solution: base64.b64encode(b"[1, 2]").decode(),
        lambda solution: _forged(solution, number=-1),
        lambda solution: _forged(solution, signature="0" * 64),
        lambda solution: _forged(solution, algorithm="SHA-1"),
        lambda solution: _forged(solution, salt=7),
        lambda solution: _forged(solution, number="x"),
    ],
    ids=["empty", "junk", "not-an-object", "wrong-number", "forged", "algorithm", "salt", "nan"],
)
async def test_an_unsolved_or_forged_proof_of_work_is_refused(
    client: httpx.AsyncClient,
    buyer: SignedInUser,
    list_sale: ListSale,
    mangle: Callable[[str], str],
) -> None:
    sale = await list_sale()
    solution = mangle(await solve_for(client, buyer))
    answer = await client.post(
        f"/api/waitingroom/{sale.id}", json={"altcha": solution}, headers=buyer.headers
    )
    assert answer.status_code == 400
    assert answer.json() == {"errors": [{"message": "Proof of work is invalid", "field": "altcha"}]}


async def test_a_proof_of_work_is_good_once_and_for_its_own_account(
    client: httpx.AsyncClient,
    buyer: SignedInUser,
    make_user: Callable[..., SignedInUser],
    list_sale: ListSale,
) -> None:
    sale, other_sale = await list_sale(), await list_sale()
    solution = await solve_for(client, buyer)
    someone = make_user()
    stolen = await client.post(
        f"/api/waitingroom/{sale.id}", json={"altcha": solution}, headers=someone.headers
    )
    assert stolen.status_code == 400
    used = await client.post(
        f"/api/waitingroom/{sale.id}", json={"altcha": solution}, headers=buyer.headers
    )
    assert used.status_code == 201
    again = await client.post(
        f"/api/waitingroom/{other_sale.id}", json={"altcha": solution}, headers=buyer.headers
    )
    assert again.status_code == 400
    assert again.json()["errors"][0]["field"] == "altcha"


async def test_an_expired_challenge_is_refused(
    client: httpx.AsyncClient, buyer: SignedInUser, list_sale: ListSale, room: WaitingRoom
) -> None:
    sale = await list_sale()
    room.proof.lifetime = -room.proof.lifetime  # handed out already expired
    solution = await solve_for(client, buyer)
    answer = await client.post(
        f"/api/waitingroom/{sale.id}", json={"altcha": solution}, headers=buyer.headers
    )
    assert answer.status_code == 400


async def test_joins_from_one_address_are_limited(
    client: httpx.AsyncClient,
    make_user: Callable[..., SignedInUser],
    list_sale: ListSale,
    join: Join,
    room: WaitingRoom,
) -> None:
    sale = await list_sale()
    limit = room.rules.joins_per_address
    for _ in range(limit):
        assert (await join(make_user(), sale.id, address="198.51.100.9")).status_code == 201
    refused = await join(make_user(), sale.id, address="198.51.100.9")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    assert (await join(make_user(), sale.id, address="198.51.100.10")).status_code == 201


async def test_the_draw_places_early_joiners_in_one_order_and_later_ones_behind(
    client: httpx.AsyncClient,
    make_user: Callable[..., SignedInUser],
    list_sale: ListSale,
    join: Join,
    room: WaitingRoom,
    clock: Clock,
) -> None:
    sale = await list_sale(starts_in=30)
    early = [make_user() for _ in range(6)]
    for user in early:
        await join(user, sale.id)
    clock.advance(31)
    late = [make_user() for _ in range(3)]
    for user in late:
        assert (await join(user, sale.id)).status_code == 201
    room.rules = replace(room.rules, admit_per_round=0)
    await room.advance()  # draws; admits nobody (this round's share is 0)
    early_places = sorted([(await place_of(client, u, sale.id))["position"] for u in early])
    late_places = [(await place_of(client, u, sale.id))["position"] for u in late]
    assert early_places == [1, 2, 3, 4, 5, 6]
    assert late_places == [7, 8, 9]
    place = await place_of(client, late[-1], sale.id)
    assert (place["ahead"], place["status"]) == (8, "waiting")


async def test_admitted_buyers_get_an_admission_orders_will_accept(
    client: httpx.AsyncClient,
    buyer: SignedInUser,
    list_sale: ListSale,
    join: Join,
    room: WaitingRoom,
    clock: Clock,
    jwt_key: str,
) -> None:
    sale = await list_sale(starts_in=-1)
    await join(buyer, sale.id)
    assert await room.advance() == 1
    place = await place_of(client, buyer, sale.id)
    assert place["status"] == "admitted"
    assert (place["position"], place["estimatedWaitSeconds"]) == (None, 0)
    until = place["admittedUntil"]
    assert until.endswith("Z")
    codec = AdmissionCodec(jwt_key)
    assert codec.verify(place["admission"], user_id=buyer.id, ticket_id=sale.id)
    clock.advance(ADMISSION_SECONDS)
    lapsed = await place_of(client, buyer, sale.id)
    assert lapsed["status"] == "expired"
    assert "admission" not in lapsed or lapsed["admission"] is None


async def test_a_lapsed_admission_sends_its_holder_to_the_back(
    client: httpx.AsyncClient,
    make_user: Callable[..., SignedInUser],
    list_sale: ListSale,
    join: Join,
    room: WaitingRoom,
    clock: Clock,
) -> None:
    sale = await list_sale(starts_in=-1, quantity=1)
    first, second = make_user(), make_user()
    await join(first, sale.id)
    await join(second, sale.id)
    await room.advance()  # one seat: one admission
    assert (await place_of(client, first, sale.id))["status"] == "admitted"
    assert (await place_of(client, second, sale.id))["position"] == 1
    clock.advance(ADMISSION_SECONDS + 1)
    await room.advance()  # the lapsed one holds the seat back no longer
    assert (await place_of(client, second, sale.id))["status"] == "admitted"
    rejoined = await join(first, sale.id)
    assert rejoined.status_code == 201
    assert (rejoined.json()["status"], rejoined.json()["position"]) == ("waiting", 1)


async def test_admissions_never_outnumber_the_seats_left(
    client: httpx.AsyncClient,
    make_user: Callable[..., SignedInUser],
    list_sale: ListSale,
    join: Join,
    room: WaitingRoom,
    clock: Clock,
) -> None:
    sale = await list_sale(starts_in=-1, quantity=2)
    buyers = [make_user() for _ in range(5)]
    for user in buyers:
        await join(user, sale.id)
    for _ in range(3):
        await room.advance()
        clock.advance(10)
    statuses = [(await place_of(client, u, sale.id))["status"] for u in buyers]
    # The last is told sold out: were both seats given back, the two before would take them.
    assert statuses == ["admitted", "admitted", "waiting", "waiting", "sold-out"]


async def test_each_admission_holds_the_per_buyer_limit_and_the_last_what_is_left(
    client: httpx.AsyncClient,
    make_user: Callable[..., SignedInUser],
    list_sale: ListSale,
    join: Join,
    room: WaitingRoom,
    publish: Publisher,
    clock: Clock,
) -> None:
    sale = await list_sale(starts_in=-1, quantity=9, per_buyer_limit=4)
    buyers = [make_user() for _ in range(4)]
    for user in buyers:
        await join(user, sale.id)
    room.rules = replace(room.rules, admit_per_round=10, admit_per_minute=10)
    assert await room.advance() == 3  # 4 seats held for each of two, the one left for a third
    assert await room.store.reserved(sale.id) == 9
    assert (await place_of(client, buyers[3], sale.id))["status"] == "waiting"
    await publish.publish(_order_of(buyers[0], sale.id, seats=4, clock=clock))
    await wait_until(lambda: _reserved_is(room, sale.id, 5), message="admission used")


async def test_what_an_order_leaves_of_its_admission_admits_the_next_buyer(
    client: httpx.AsyncClient,
    make_user: Callable[..., SignedInUser],
    list_sale: ListSale,
    join: Join,
    room: WaitingRoom,
    publish: Publisher,
    clock: Clock,
) -> None:
    sale = await list_sale(starts_in=-1, quantity=8, per_buyer_limit=4)
    first, second, third = make_user(), make_user(), make_user()
    for user in (first, second, third):
        await join(user, sale.id)
    room.rules = replace(room.rules, admit_per_round=10, admit_per_minute=10)
    assert await room.advance() == 2  # every seat held: 4 each
    assert (await place_of(client, third, sale.id))["status"] == "waiting"
    await publish.publish(_order_of(first, sale.id, seats=1, clock=clock))
    # One purchase per admission: the 3 seats the order did not take are free again at once.
    await wait_until(lambda: _reserved_is(room, sale.id, 4), message="admission used")
    assert await room.advance() == 1
    assert (await place_of(client, third, sale.id))["status"] == "admitted"
    assert await room.store.reserved(sale.id) == 7
    # The first buyer's admission still stands (orders would take a second order with it,
    # while seats are free), but holds nothing more back: a second order changes nothing here.
    assert (await place_of(client, first, sale.id))["status"] == "admitted"
    await publish.publish(_order_of(first, sale.id, seats=1, clock=clock))
    await publish.publish(_order_of(third, sale.id, seats=3, clock=clock))
    await wait_until(lambda: _reserved_is(room, sale.id, 4), message="third buyer's order")


async def test_every_last_seat_is_sold_and_those_still_waiting_are_told_sold_out(
    client: httpx.AsyncClient,
    make_user: Callable[..., SignedInUser],
    list_sale: ListSale,
    set_available: SetAvailable,
    join: Join,
    room: WaitingRoom,
    publish: Publisher,
    clock: Clock,
) -> None:
    sale = await list_sale(starts_in=-1, quantity=10, per_buyer_limit=4)
    buyers = [make_user() for _ in range(8)]
    for user in buyers:
        await join(user, sale.id)
    room.rules = replace(room.rules, admit_per_round=10, admit_per_minute=100)
    # What each buyer orders once admitted, in the line's order: the third takes more than the
    # 2 seats its admission holds, which orders allows while the first two's are not bought.
    wants = dict(zip((user.id for user in buyers), [3, 1, 4, 2, 4, 4, 4, 4], strict=True))
    left, bought = 10, {}
    for _ in range(5):
        await room.advance()
        for user in buyers:
            place = await place_of(client, user, sale.id)
            if place["status"] != "admitted" or user.id in bought:
                continue
            bought[user.id] = seats = min(wants[user.id], left)
            left -= seats
            held = await room.store.reserved(sale.id)
            order = _order_of(user, sale.id, seats=seats, clock=clock, version=sale.version)
            await publish.publish(order)
            await set_available(sale, left)
            await wait_until(partial(_reserved_below, room, sale.id, held), message="order heard")
        clock.advance(1)
    assert (left, list(bought.values())) == (0, [3, 1, 4, 2])
    for user in buyers[4:]:
        place = await place_of(client, user, sale.id)
        assert (place["status"], place["position"]) == ("sold-out", buyers.index(user) - 3)


async def _reserved_below(room: WaitingRoom, ticket_id: str, seats: int) -> bool:
    return await room.store.reserved(ticket_id) < seats


async def test_the_line_is_told_sold_out_when_the_seats_held_cannot_reach_it(
    client: httpx.AsyncClient,
    make_user: Callable[..., SignedInUser],
    list_sale: ListSale,
    join: Join,
    room: WaitingRoom,
    clock: Clock,
) -> None:
    sale = await list_sale(starts_in=-1, quantity=2)
    buyers = [make_user() for _ in range(5)]
    for user in buyers:
        await join(user, sale.id)
    await room.advance()  # both seats held, one for each of the first two
    statuses = [(await place_of(client, u, sale.id))["status"] for u in buyers]
    # Were both seats given back, the next two would be admitted to them: they wait on.
    assert statuses == ["admitted", "admitted", "waiting", "waiting", "sold-out"]
    clock.advance(ADMISSION_SECONDS + 1)
    await room.advance()  # both lapsed: the seats go to the next two
    statuses = [(await place_of(client, u, sale.id))["status"] for u in buyers[2:]]
    assert statuses == ["admitted", "admitted", "waiting"]


async def _reserved_is(room: WaitingRoom, ticket_id: str, seats: int) -> bool:
    return await room.store.reserved(ticket_id) == seats


def _order_of(
    buyer: SignedInUser, ticket_id: str, *, seats: int, clock: Clock, version: int = 0
) -> OrderCreated:
    """The order as orders reports it, placed against the ticket's `version`."""
    return OrderCreated(
        id=str(ObjectId()),
        version=0,
        status=OrderStatus.CREATED,
        user_id=buyer.id,
        expires_at=clock.now,
        ticket=TicketPrice(id=ticket_id, price=50, version=version),
        quantity=seats,
    )


async def test_the_room_admits_at_its_rate(
    client: httpx.AsyncClient,
    make_user: Callable[..., SignedInUser],
    list_sale: ListSale,
    join: Join,
    room: WaitingRoom,
    clock: Clock,
) -> None:
    sale = await list_sale(starts_in=-1, quantity=100)
    for _ in range(10):
        await join(make_user(), sale.id)
    admitted = 0
    for _ in range(20):  # 20 rounds within one minute: the rate (6 a minute) holds
        admitted += await room.advance()
        clock.advance(2)
    assert admitted == 6
    clock.advance(60)
    assert await room.advance() >= 1


async def test_a_sold_out_sale_says_so_and_waits_on_in_order_when_seats_come_back(
    client: httpx.AsyncClient,
    make_user: Callable[..., SignedInUser],
    list_sale: ListSale,
    set_available: SetAvailable,
    join: Join,
    room: WaitingRoom,
) -> None:
    sale = await list_sale(starts_in=-1, quantity=1)
    holder, waiting = make_user(), make_user()
    await join(holder, sale.id)
    await join(waiting, sale.id)
    await room.advance()
    await set_available(sale, 0)  # the holder ordered the last seat
    place = await place_of(client, waiting, sale.id)
    assert (place["status"], place["position"]) == ("sold-out", 1)
    await set_available(sale, 1)  # the order lapsed: the seat is back
    place = await place_of(client, waiting, sale.id)
    assert (place["status"], place["position"]) == ("waiting", 1)


async def test_an_order_uses_the_admission_up_and_frees_its_hold(
    client: httpx.AsyncClient,
    make_user: Callable[..., SignedInUser],
    list_sale: ListSale,
    join: Join,
    room: WaitingRoom,
    publish: Publisher,
    clock: Clock,
) -> None:
    sale = await list_sale(starts_in=-1, quantity=3)
    first, second = make_user(), make_user()
    await join(first, sale.id)
    await join(second, sale.id)
    room.rules = replace(room.rules, admit_per_round=1)
    await room.advance()
    assert await room.store.outstanding(sale.id, now=room.now()) == 1
    await publish.publish(_order_of(first, sale.id, seats=1, clock=clock))
    await wait_until(lambda: _outstanding_is(room, sale.id, 0), message="admission used")
    assert (await place_of(client, first, sale.id))["status"] == "admitted"


async def _outstanding_is(room: WaitingRoom, ticket_id: str, count: int) -> bool:
    return await room.store.outstanding(ticket_id, now=room.now()) == count
