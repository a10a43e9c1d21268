"""Who is in which segment, and the events that put them there.

`segment_hits` holds one row per event that met an event rule's conditions, with
when it happened: counting a window is then a count of rows, each new event adds
one, and ageing is deleting the rows older than the window. `segment_members` is
who is in each segment now, and since when. Both are per customer (erased with
them) and hold no values: names of the policy's segments, message ids and times.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, PrimaryKeyConstraint, String, Table

from trustable.storage.metadata import data_metadata
from trustable.storage.types import UtcDateTime

segment_hits = Table(
    "segment_hits",
    data_metadata,
    Column("customer_id", String(32), nullable=False),
    Column("segment", String(64), nullable=False),
    Column("message_id", String(100), nullable=False),
    Column("occurred_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("customer_id", "segment", "message_id"),
    Index("ix_segment_hits_segment_occurred", "segment", "occurred_at"),
)

segment_members = Table(
    "segment_members",
    data_metadata,
    Column("customer_id", String(32), nullable=False),
    Column("segment", String(64), nullable=False),
    Column("since", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("customer_id", "segment"),
    Index("ix_segment_members_segment", "segment"),
)
