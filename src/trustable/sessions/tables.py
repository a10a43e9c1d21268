"""Browser sessions, kept only as keyed hashes of their cookies.

A portal session belongs to a customer (`customer_id`, so it shards and is erased
with them); a console session to a console user (`user_id`). A stolen copy of this
table opens nothing: the cookie itself is never stored.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table

from trustable.storage.metadata import data_metadata
from trustable.storage.types import UtcDateTime

web_sessions = Table(
    "web_sessions",
    data_metadata,
    Column("session_hash", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),  # portal | console
    Column("customer_id", String(32), nullable=True, index=True),
    Column("user_id", String(32), nullable=True, index=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_seen_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Index("ix_web_sessions_expires_at", "expires_at"),
)
