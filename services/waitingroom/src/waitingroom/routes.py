"""The waiting room's routes of the HTTP contract ("The on-sale")."""

from __future__ import annotations

from fastapi import Request, Response, status

from tixcommon.addresses import client_address
from tixcommon.auth import RequireUser
from tixcommon.db import parse_object_id
from tixcommon.errors import BadRequest, NotFound, TooManyRequests
from tixcommon.fields import IdInPath
from tixcommon.openapi import refusals
from tixcommon.routers import service_router
from waitingroom.schemas import ChallengeOut, JoinIn, PlaceOut
from waitingroom.service import NOT_OPEN, PROOF_INVALID
from waitingroom.wiring import Room, Wired

router = service_router("/api/waitingroom", tags=["waitingroom"])


@router.get("/challenge")
async def get_challenge(user: RequireUser, room: Room) -> ChallengeOut:
    return ChallengeOut.model_validate(room.challenge(user))


@router.post(
    "/{ticket_id}",
    status_code=status.HTTP_201_CREATED,
    responses={
        **refusals(
            BadRequest(NOT_OPEN),
            BadRequest(PROOF_INVALID, field="altcha"),
            NotFound(),
            TooManyRequests(retry_after=60),
        ),
        200: {"description": "Already in the room: the same place", "model": PlaceOut},
    },
    response_model=PlaceOut,
    response_model_exclude_unset=True,
)
async def join_room(
    ticket_id: IdInPath,
    body: JoinIn,
    user: RequireUser,
    request: Request,
    response: Response,
    room: Room,
    wired: Wired,
) -> PlaceOut:
    address = client_address(request, wired.settings.trusted_proxy_hops)
    place, new = await room.join(user, str(parse_object_id(ticket_id)), body.altcha, address)
    if not new:
        response.status_code = status.HTTP_200_OK
    return place


@router.get(
    "/{ticket_id}",
    responses=refusals(NotFound()),
    response_model=PlaceOut,
    response_model_exclude_unset=True,
)
async def show_place(ticket_id: IdInPath, user: RequireUser, room: Room) -> Response:
    place = await room.place(user, str(parse_object_id(ticket_id)))
    # Serialised once, here: every waiting buyer polls this, and FastAPI would validate the
    # model it was handed again before serialising it (response_model is for the docs).
    body = place.model_dump_json(by_alias=True, exclude_unset=True)
    return Response(body, media_type="application/json")
