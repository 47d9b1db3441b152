"""The listing's pages as last answered, kept for a moment: the catalogue is what every visitor
reads first, and under a rush the same few pages are asked for thousands of times a second.
A page is worth reading from the database once per change, not once per visitor.

Exact within a replica: every change this replica commits drops every page (after the commit,
so a page read before it is never kept past it), and a page read while a change committed is
not kept. Between replicas, each drops its pages when it hears a ticket event on the bus (a
core NATS subscription, a few milliseconds behind the commit); what bounds a page's age when
that is missed, and the moment an event starts (which leaves the listing), is `seconds`.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

_PAGES = 512  # a page is at most 100 tickets, about 40 KB of JSON


@dataclass(frozen=True)
class CachedPage:
    body: bytes
    next_cursor: str | None
    kept_at: float


class PageCache:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._pages: OrderedDict[Hashable, CachedPage] = OrderedDict()
        self._generation = 0

    @property
    def generation(self) -> int:
        """Taken before a page is read; the page is kept only if no change came meanwhile."""
        return self._generation

    def get(self, key: Hashable) -> CachedPage | None:
        page = self._pages.get(key)
        if page is None:
            return None
        if time.monotonic() - page.kept_at >= self.seconds:
            del self._pages[key]
            return None
        return page

    def keep(self, key: Hashable, generation: int, body: bytes, next_cursor: str | None) -> None:
        if self.seconds <= 0 or generation != self._generation:
            return
        self._pages[key] = CachedPage(body, next_cursor, time.monotonic())
        self._pages.move_to_end(key)
        if len(self._pages) > _PAGES:
            self._pages.popitem(last=False)

    def drop_all(self) -> None:
        """A ticket changed: no page may show what it was."""
        self._generation += 1
        self._pages.clear()
