"""The listing's pages as runs of index intervals.

A page is read as intervals over its sort's key, each one range on one index: `{for_sale: true,
key: [low, high)}`, or with a search word `{for_sale: true, terms: word, key: [low, high)}`. On
SecantusDB, the server we test on, a query costs every candidate its index range holds, however
small its limit, and only that query shape narrows candidates to the range: an open range, a
second condition or `$all` is a scan of everything after the cursor or of the whole collection.
So a page asks for an interval about one page wide (learned from the previous page), widens it
fourfold while it holds too few, and checks every other condition (not started, the bounds and
the words that are not the interval's) on the tickets it returns. On MongoDB the same queries
are index bounds, and the intervals cost one round trip each.

What costs queries is empty space: a page that finds fewer tickets than it wants (the last page,
a small catalogue, a rare word) would widen again and again through the keys past the last
ticket, out to the axis's end. So the process remembers (`ListingMemory`) where each query's
candidates ended when a read last reached the end, and how wide each query's first page was: an
interval that would pass the remembered end reads to the axis's end instead, in one query. What
is remembered only shapes the reads; the last one always runs to the axis's true end, so a
ticket listed past a remembered end is still found (and the end learned anew).

Every key is a number followed by the ticket's id (`_id` alone for `newest`), so it maps to an
integer point: the intervals are exact integer ranges, and adjacent ones never overlap or skip.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from bson import ObjectId

from tickets.models import STARTS_WIDTH, UNDATED
from tickets.schemas import ListingQuery, ListingSort

_ID_BITS = 96
_ID_MASK = (1 << _ID_BITS) - 1
_PRICE_WIDTH = 10
_UNDATED_MS = int(UNDATED)


@dataclass(frozen=True)
class Axis:
    """A sort key as integer points: `width` digits of its number, then the id's 96 bits."""

    field: str
    direction: int  # 1 ascending, -1 descending
    width: int  # 0: the key is the id itself
    first_span: int  # how wide a first read is before any page has been read

    @property
    def unit(self) -> int:
        """One step of the key's number (a second of ids for `newest`): the least an empty read
        widens to, since the ids within one step are a band far narrower than the step."""
        return 1 << 64 if self.width == 0 else 1 << _ID_BITS

    @property
    def end(self) -> int:
        """Past every key."""
        return 1 << _ID_BITS if self.width == 0 else 10**self.width << _ID_BITS

    def point(self, key: Any) -> int:
        if self.width == 0:
            return int.from_bytes(ObjectId(key).binary)
        text = str(key)
        return int(text[: self.width]) << _ID_BITS | int(text[self.width :], 16)

    def key(self, point: int) -> Any:
        if self.width == 0:
            return ObjectId(point.to_bytes(_ID_BITS // 8))
        return f"{point >> _ID_BITS:0{self.width}d}{point & _ID_MASK:024x}"

    def first_interval(self, now: datetime) -> tuple[int | None, int]:
        """Where a first page's first read ends, before any page was read: a day of listings
        back from now for `newest`, `first_span` from the near end otherwise (None)."""
        if self.width == 0:
            return self.point(ObjectId.from_datetime(now)), self.first_span
        return None, self.first_span

    def interval(self, low: int, high: int) -> dict[str, Any]:
        """The query for the keys in [low, high); an interval's edge at either end of the axis
        is left open (a key past the last one would not be a key)."""
        bounds: dict[str, Any] = {}
        if low > 0:
            bounds["$gte"] = self.key(low)
        if high < self.end:
            bounds["$lt"] = self.key(high)
        return {self.field: bounds} if bounds else {}


_DAY_SECONDS = 86_400
AXES: dict[ListingSort, Axis] = {
    # An id's first 32 bits are its creation in seconds.
    ListingSort.NEWEST: Axis("_id", -1, 0, _DAY_SECONDS << 64),
    ListingSort.STARTS_AT: Axis("starts_key", 1, STARTS_WIDTH, _DAY_SECONDS * 1000 << _ID_BITS),
    ListingSort.PRICE: Axis("price_key", 1, _PRICE_WIDTH, 100 << _ID_BITS),
    ListingSort.PRICE_DESCENDING: Axis("price_key", -1, _PRICE_WIDTH, 100 << _ID_BITS),
}


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class ListingScan:
    """What one listing query reads: the interval of its axis that can hold a match, the search
    word the index narrows by, and the test every ticket read must pass."""

    axis: Axis
    low: int
    high: int
    word: str | None
    matches: Callable[[dict[str, Any]], bool]
    unfiltered: bool  # every ticket for sale matches: how dense its axis is, as it is
    signature: Hashable  # the query but its cursor: pages of one signature read alike

    @classmethod
    def of(cls, query: ListingQuery, now: datetime) -> ListingScan:
        axis = AXES[query.sort]
        lowest_price = query.min_price if query.min_price is not None else 0
        highest_price = query.max_price if query.max_price is not None else 10**_PRICE_WIDTH - 1
        dated = query.starts_from is not None or query.starts_to is not None
        earliest = max(_ms(now), _ms(query.starts_from) if query.starts_from else 0)
        if query.starts_to is not None:
            latest = _ms(query.starts_to)
        else:  # a date range leaves out the undated, which sort after every date
            latest = _UNDATED_MS - 1 if dated else _UNDATED_MS
        # The longest word is the likeliest to be rare: the index reads its tickets only.
        words = sorted(query.words, key=len, reverse=True)

        def matches(ticket: dict[str, Any]) -> bool:
            starts = int(ticket["starts_key"][:STARTS_WIDTH])
            price = int(ticket["price_key"][:_PRICE_WIDTH])
            terms = ticket["terms"]
            return (
                earliest <= starts <= latest
                and lowest_price <= price <= highest_price
                and all(word in terms for word in words)
            )

        low, high = 0, axis.end
        if axis.field == "price_key":
            low, high = lowest_price << _ID_BITS, highest_price + 1 << _ID_BITS
        elif axis.field == "starts_key":
            low, high = earliest << _ID_BITS, min(latest + 1 << _ID_BITS, axis.end)
        unfiltered = not words and query.min_price is None and query.max_price is None
        signature = (
            query.sort, tuple(words), query.min_price, query.max_price,
            query.starts_from, query.starts_to, query.limit,
        )  # fmt: skip
        word = words[0] if words else None
        return cls(axis, low, high, word, matches, unfiltered and not dated, signature)

    @property
    def forward(self) -> bool:
        return self.axis.direction == 1

    @property
    def end(self) -> int:
        """The far end of the scan's range, in its direction."""
        return self.high if self.forward else self.low

    def reach(self, word: str | None) -> Hashable:
        """What the candidates' end depends on: the sort, the indexed word and the range's far
        end (the near end moves with the clock for dates; the end does not)."""
        return (self.axis.field, self.axis.direction, word, self.end)

    def passes(self, far: int, last: int) -> bool:
        """Whether the interval ending at `far` holds the point `last`."""
        return far > last if self.forward else far <= last

    def query(self, low: int, high: int) -> dict[str, Any]:
        """The tickets for sale in [low, high) of the axis (with the search word)."""
        word = {} if self.word is None else {"terms": self.word}
        return {"for_sale": True, **word, **self.axis.interval(low, high)}

    def start(self, after: str | None) -> int:
        """The point the scan starts at: its near end, or just past the key `after`."""
        forward = self.axis.direction == 1
        if after is None:
            return self.low if forward else self.high
        point = self.axis.point(after)
        return max(self.low, point + 1) if forward else min(self.high, point)


_T = TypeVar("_T")
_REMEMBERED = 4_096  # queries and ends per process: a few hundred bytes each


class ListingMemory:
    """What this process learned of the listing's shape from the pages it read: where each
    query's first page began and how wide it was, and where the candidates of each sort and
    word end. Hints only (never results), per process, the least recently used forgotten."""

    def __init__(self) -> None:
        self._first_pages: OrderedDict[Hashable, tuple[int | None, int]] = OrderedDict()
        self._ends: OrderedDict[Hashable, int] = OrderedDict()

    def first_page(self, scan: ListingScan) -> tuple[int | None, int] | None:
        """The first page's anchor and width for the query, or for its sort unfiltered."""
        return _recall(self._first_pages, scan.signature) or _recall(self._first_pages, scan.axis)

    def learn_first_page(self, scan: ListingScan, anchor: int | None, span: int) -> None:
        _keep(self._first_pages, scan.signature, (anchor, span))
        if scan.unfiltered:
            _keep(self._first_pages, scan.axis, (anchor, span))

    def end(self, scan: ListingScan) -> int | None:
        """The last candidate's point when a read of the scan's candidates last reached the end;
        the end of every ticket for sale serves a word not seen (its tickets are among them)."""
        last = _recall(self._ends, scan.reach(scan.word))
        return _recall(self._ends, scan.reach(None)) if last is None else last

    def learn_end(self, scan: ListingScan, last: int) -> None:
        _keep(self._ends, scan.reach(scan.word), last)


def _recall(memory: OrderedDict[Hashable, _T], key: Hashable) -> _T | None:
    value = memory.get(key)
    if value is not None:
        memory.move_to_end(key)
    return value


def _keep(memory: OrderedDict[Hashable, _T], key: Hashable, value: _T) -> None:
    memory[key] = value
    memory.move_to_end(key)
    if len(memory) > _REMEMBERED:
        memory.popitem(last=False)
