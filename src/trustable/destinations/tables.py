"""The outbox: one row per event and destination, filled in the collecting transaction.

It holds no personal value: it points at the stored (sealed) event, which is opened
and filtered by consent only when the delivery is made.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table

from trustable.storage.metadata import data_metadata
from trustable.storage.types import UtcDateTime

# On PostgreSQL hash-partitioned by customer, its primary key (id, customer_id) and its
# unique keys per customer (storage.partitions, migration data_0019).
outbox = Table(
    "outbox",
    data_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("customer_id", String(32), nullable=False, index=True),
    Column("destination", String(64), nullable=False),
    Column("message_id", String(100), nullable=False),
    # The receiver's deduplication key: the same for every attempt of this delivery.
    Column("idempotency_key", String(36), nullable=False, unique=True),
    # pending -> delivered | skipped (nothing left to send) | dead (gave up)
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("last_error", String(200), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=True),
    Index("ix_outbox_due", "state", "next_attempt_at"),
)

# Notices that a customer's data must be erased or corrected at a destination that
# received it: kept until the destination acknowledges (2xx), retried until then.
# They name the customer only by the opaque id the destination already knows.
notices = Table(
    "destination_notices",
    data_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("request_id", String(32), nullable=False, index=True),
    Column("customer_id", String(32), nullable=False),
    Column("destination", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # erase | rectify
    Column("fields", String(500), nullable=False),  # names of corrected fields, no values
    Column("idempotency_key", String(36), nullable=False, unique=True),
    Column("state", String(16), nullable=False),  # pending | acknowledged | dead
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("last_error", String(200), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("acknowledged_at", UtcDateTime(), nullable=True),
    Index("ix_destination_notices_due", "state", "next_attempt_at"),
)
