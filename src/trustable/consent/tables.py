"""Consent history (append-only) and the current state derived from it."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
)

from trustable.storage.metadata import data_metadata
from trustable.storage.types import UtcDateTime

# Append-only: a row is never updated or deleted except by erasing the customer.
# On PostgreSQL hash-partitioned by customer, its primary key (id, customer_id) and its
# unique keys per customer (storage.partitions, migration data_0019).
consent_records = Table(
    "consent_records",
    data_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("receipt_id", String(36), nullable=False, unique=True),
    Column("customer_id", String(32), nullable=False, index=True),
    Column("purpose", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("method", String(16), nullable=False),
    Column("notice_version", String(64), nullable=False),
    Column("jurisdiction", String(8), nullable=True),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Column("history", String(32), nullable=True),  # as `events.history`
    # The trust dashboard counts decisions per purpose and day from this index alone.
    Index("ix_consent_records_recorded", "recorded_at", "purpose", "status"),
)

# The latest record per customer and purpose, kept beside the history for fast reads.
consent_state = Table(
    "consent_state",
    data_metadata,
    Column("customer_id", String(32), nullable=False),
    Column("purpose", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("method", String(16), nullable=False),
    Column("notice_version", String(64), nullable=False),
    Column("jurisdiction", String(8), nullable=True),
    Column("recorded_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("customer_id", "purpose"),
)

# Art. 18: a restricted customer's data is kept but serves no purpose until lifted.
restrictions = Table(
    "restrictions",
    data_metadata,
    Column("customer_id", String(32), primary_key=True),
    Column("request_id", String(32), nullable=False),
    Column("since", UtcDateTime(), nullable=False),
)
