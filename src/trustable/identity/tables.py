"""Customers and identifiers. Identifier values are ciphertext; lookups go through
the blind index."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
)

from trustable.storage.metadata import data_metadata
from trustable.storage.types import UtcDateTime

customers = Table(
    "customers",
    data_metadata,
    Column("customer_id", String(32), primary_key=True),
    Column("created_at", UtcDateTime(), nullable=False),
    # Set when this customer's history was joined into another (alias/identify).
    Column("merged_into", String(32), nullable=True, index=True),
)

identifiers = Table(
    "identifiers",
    data_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("customer_id", String(32), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("blind_index", String(64), nullable=False),
    Column("value", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("kind", "blind_index"),
)
