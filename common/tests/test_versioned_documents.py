from __future__ import annotations

from typing import Any

import pytest
from demo_service import Gadget
from pymongo import AsyncMongoClient

from tixcommon.db import VersionConflict, init_documents


@pytest.fixture
async def gadgets(mongo: AsyncMongoClient[Any], database_name: str) -> None:
    await init_documents(mongo, database_name, [Gadget])


async def test_compare_and_set_bumps_version_by_one(gadgets: None) -> None:
    gadget = Gadget(title="a")
    await gadget.insert()

    changed = await gadget.compare_and_set({"title": "b"})

    stored = await Gadget.get(gadget.id)
    assert stored is not None
    assert (stored.title, stored.version) == ("b", 1)
    assert (changed.title, changed.version) == ("b", 1)
    assert (gadget.title, gadget.version) == ("a", 0)


async def test_compare_and_set_refuses_a_stale_copy(gadgets: None) -> None:
    gadget = Gadget(title="a")
    await gadget.insert()
    stale = await Gadget.get(gadget.id)
    assert stale is not None
    await gadget.compare_and_set({"title": "first writer"})

    with pytest.raises(VersionConflict):
        await stale.compare_and_set({"title": "second writer"})

    stored = await Gadget.get(gadget.id)
    assert stored is not None
    assert (stored.title, stored.version) == ("first writer", 1)
