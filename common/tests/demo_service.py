"""A small service built with the app factory, to test what every service inherits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from beanie import Document
from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, Field
from pymongo.errors import ServerSelectionTimeoutError

from tixcommon.app import create_app
from tixcommon.auth import RequireUser
from tixcommon.bus import Outbox, Transaction
from tixcommon.context import ServiceContext, opened
from tixcommon.db import VersionedDocument, parse_object_id
from tixcommon.errors import BadRequest, NotFound
from tixcommon.events import TicketCreated
from tixcommon.settings import EventServiceSettings, load_settings


class DemoSettings(EventServiceSettings):
    service_name: str = "demo"


class Gadget(VersionedDocument):
    title: str

    class Settings:
        name = "gadgets"


class GadgetIn(BaseModel):
    title: str = Field(min_length=1)
    price: float = Field(gt=0)


@dataclass(frozen=True)
class DemoWiring:
    outbox: Outbox


async def open_wiring(context: ServiceContext[DemoSettings]) -> DemoWiring:
    return DemoWiring(context.require_outbox())


async def _outbox(request: Request) -> Outbox:
    return opened(request, DemoWiring).outbox


DemoOutbox = Annotated[Outbox, Depends(_outbox)]

router = APIRouter(prefix="/api/demo")


@router.post("/gadgets", status_code=201)
async def create_gadget(body: GadgetIn, user: RequireUser, outbox: DemoOutbox) -> dict[str, str]:
    gadget = Gadget(title=body.title)

    async def work(tx: Transaction) -> None:
        await gadget.insert(session=tx.session)
        tx.publish(
            TicketCreated(
                id=str(gadget.id), version=0, title=body.title, price=body.price, user_id=user.id
            )
        )

    await outbox.run(work)
    return {"id": str(gadget.id)}


@router.get("/gadgets/{gadget_id}")
async def show_gadget(gadget_id: str) -> dict[str, str]:
    gadget = await Gadget.get(parse_object_id(gadget_id))
    if gadget is None:
        raise NotFound()
    return {"id": str(gadget.id), "title": gadget.title}


@router.get("/business")
async def business_rule() -> None:
    raise BadRequest("Cannot edit a reserved ticket")


@router.get("/crash")
async def crash() -> None:
    raise RuntimeError("secret internals: password=hunter2")


@router.get("/database-down")
async def database_down() -> None:
    raise ServerSelectionTimeoutError("no servers")


@router.post("/echo")
async def echo(body: dict[str, object]) -> dict[str, object]:
    return body


def build_demo_app(documents: list[type[Document]] | None = None) -> FastAPI:
    return create_app(
        load_settings(DemoSettings),
        title="demo",
        api_prefix="/api/demo",
        routers=[router],
        documents=documents or [Gadget],
        wiring=open_wiring,
    )
