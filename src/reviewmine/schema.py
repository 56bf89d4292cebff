"""The ``Review`` record and its Arrow schema, shared by every stage.

Collectors emit ``Review`` objects; the processing layer writes tables with
``REVIEW_SCHEMA`` (plus processing columns); analysis and reports read them.
Review ids are always strings, times are always UTC.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime

import pyarrow as pa

STORES = ("google_play", "app_store")


@dataclass(frozen=True, slots=True)
class Review:
    """One review as a store served it, with provenance. No reviewer avatar or account id."""

    store: str
    app: str
    review_id: str
    rating: int | None
    text: str
    at: datetime | None
    title: str | None = None
    app_version: str | None = None
    language: str | None = None
    country: str | None = None
    thumbs_up: int | None = None
    reviewer_name: str | None = None
    developer_reply: str | None = None
    developer_reply_at: datetime | None = None
    source: str | None = None
    run_id: str | None = None
    fetched_at: datetime | None = None

    def as_dict(self) -> dict:
        return asdict(self)


UTC_TS = pa.timestamp("us", tz="UTC")

REVIEW_SCHEMA = pa.schema(
    [
        pa.field("store", pa.string(), nullable=False),
        pa.field("app", pa.string(), nullable=False),
        pa.field("review_id", pa.string(), nullable=False),
        pa.field("rating", pa.int8()),
        pa.field("text", pa.string()),
        pa.field("at", UTC_TS),
        pa.field("title", pa.string()),
        pa.field("app_version", pa.string()),
        pa.field("language", pa.string()),
        pa.field("country", pa.string()),
        pa.field("thumbs_up", pa.int64()),
        pa.field("reviewer_name", pa.string()),
        pa.field("developer_reply", pa.string()),
        pa.field("developer_reply_at", UTC_TS),
        pa.field("source", pa.string()),
        pa.field("run_id", pa.string()),
        pa.field("fetched_at", UTC_TS),
    ]
)

REVIEW_COLUMNS = [f.name for f in fields(Review)]
assert REVIEW_COLUMNS == REVIEW_SCHEMA.names


def reviews_to_table(reviews: list[Review]) -> pa.Table:
    """Build an Arrow table with ``REVIEW_SCHEMA`` from ``Review`` records."""
    return pa.Table.from_pylist([r.as_dict() for r in reviews], schema=REVIEW_SCHEMA)
