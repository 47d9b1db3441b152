"""What tickets counts of its work, beside the metrics every service has (tixcommon.metrics)."""

from __future__ import annotations

from prometheus_client import Histogram

LISTING_PAGE_QUERIES = Histogram(
    "tixvibe_listing_page_queries",
    "Database queries one page of the listing took (tickets.listing: a page is read as intervals).",
    buckets=(1, 2, 3, 4, 6, 8, 12, 16),
)
