"""The floors: the same work as our endpoints, done the least way possible, served the same
way (uvicorn, one process) so the ratio shows what our code costs.

    FLOOR_MONGO_URI=... FLOOR_NATS_URL=... uvicorn bench.floor_app:app
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import nats
import orjson
from bson import ObjectId
from fastapi import FastAPI, Request, Response
from nats.js.api import StreamConfig
from pymongo import AsyncMongoClient

STREAM = "FLOOR"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(os.environ["FLOOR_MONGO_URI"])
    connection = await nats.connect(os.environ["FLOOR_NATS_URL"])
    js = connection.jetstream()
    await js.add_stream(StreamConfig(name=STREAM, subjects=["floor.>"]))
    app.state.tickets = mongo["tickets"]["tickets"]
    app.state.writes = mongo["floor"]["tickets"]
    app.state.passes = mongo["floor"]["passes"]
    app.state.js = js
    yield
    await connection.drain()
    await mongo.close()


app = FastAPI(lifespan=lifespan)


@app.get("/bare")
async def bare() -> dict[str, None]:
    """A bare FastAPI JSON endpoint (the floor of GET /api/users/currentuser)."""
    return {"currentUser": None}


@app.get("/tickets")
async def tickets(
    request: Request, high: str, low: str, word: str = "", also: str = "", limit: int = 50
) -> Response:
    """One listing page with raw PyMongo, serialised by orjson (the floor of GET /api/tickets):
    told the page's interval of ids (from its first ticket to the one after its last), it reads
    that one closed interval of the index a page is read from, newest first, and keeps the
    tickets whose events have not started and that hold every search word."""
    interval = {"$gte": ObjectId(low), "$lte": ObjectId(high)}
    query: dict[str, Any] = {"for_sale": True, **({"terms": word} if word else {}), "_id": interval}
    not_started, words = f"{int(time.time() * 1000):015d}", [w for w in also.split(",") if w]
    cursor = request.app.state.tickets.find(query, sort=[("_id", -1)], limit=1_000)
    listing = [
        {
            "id": str(doc["_id"]),
            "title": doc["title"],
            "price": doc["price_cents"] / 100,
            "userId": doc["user_id"],
            "version": doc["version"],
            "startsAt": doc["starts_at"],
            "venue": doc["venue"],
        }
        async for doc in cursor
        if doc["starts_key"] > not_started and all(w in doc["terms"] for w in words)
    ][:limit]
    return Response(orjson.dumps(listing), media_type="application/json")


@app.post("/tickets", status_code=201)
async def create(request: Request) -> Response:
    """One database write and one JetStream publish-ack round trip (the floor of POST
    /api/tickets)."""
    body = orjson.loads(await request.body())
    cents = round(body["price"] * 100)
    doc = {"_id": ObjectId(), "title": body["title"], "price_cents": cents, "version": 0}
    await request.app.state.writes.insert_one(doc)
    await request.app.state.js.publish("floor.ticket", orjson.dumps({"id": str(doc["_id"])}))
    return Response(orjson.dumps({"id": str(doc["_id"])}), 201, media_type="application/json")


@app.post("/checkin")
async def check_in(request: Request) -> Response:
    """One conditional write, a pass from valid to checked in (the floor of POST
    /api/checkins): 200 for the one write that matched, 409 for any other."""
    body = orjson.loads(await request.body())
    checked_in = await request.app.state.passes.update_one(
        {"_id": ObjectId(body["id"]), "status": "valid"},
        {"$set": {"status": "checked-in", "checked_in_at": time.time()}},
    )
    status = 200 if checked_in.modified_count == 1 else 409
    return Response(orjson.dumps({"status": "checked-in"}), status, media_type="application/json")
