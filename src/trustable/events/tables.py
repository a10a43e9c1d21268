"""Events, traits, received message ids and the drop counters.

Personal values live only in `payload` / `value` columns, sealed under the
customer's key. Drop counters name a field and a reason, never a value.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from trustable.storage.metadata import data_metadata
from trustable.storage.types import UtcDateTime

# On PostgreSQL hash-partitioned by customer, its primary key (id, customer_id)
# (storage.partitions, migration data_0019).
events = Table(
    "events",
    data_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("customer_id", String(32), nullable=False),
    Column("message_id", String(100), nullable=False),
    Column("type", String(16), nullable=False),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    # Categories of the kept fields, space-separated: what retention and reads filter on.
    Column("categories", Text, nullable=False),
    # The kept fields as JSON {path: value}, sealed with AES-GCM under the customer key.
    Column("payload", LargeBinary, nullable=False),
    # The history the event was collected into, when that history has since been
    # joined into another customer's (NULL: its own customer's).
    Column("history", String(32), nullable=True),
    Index("ix_events_customer_occurred", "customer_id", "occurred_at"),
    Index("ix_events_customer_message", "customer_id", "message_id"),
)

traits = Table(
    "traits",
    data_metadata,
    Column("customer_id", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("category", String(128), nullable=False),
    Column("value", LargeBinary, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("history", String(32), nullable=True),  # as `events.history`
    PrimaryKeyConstraint("customer_id", "name"),
)

# Every message id seen per customer, kept or not, so a retried batch stores nothing twice.
received_messages = Table(
    "received_messages",
    data_metadata,
    Column("customer_id", String(32), nullable=False),
    Column("message_id", String(100), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("customer_id", "message_id"),
)

collection_drops = Table(
    "collection_drops",
    data_metadata,
    Column("field", String(200), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("last_seen_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("field", "reason"),
)
