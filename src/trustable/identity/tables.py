"""Customers, identifiers and the record of joined histories.

Identifier values are ciphertext; lookups go through the blind index. An id
(`user_id`, `anonymous_id`, `device_id`) names one customer at most; an email or
phone may be claimed by several (a shared family address, a typo, a stranger's
claim through a public key), and only a *verified* one is a contact: see
docs/identity.md.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
    text,
)

from trustable.storage.metadata import data_metadata
from trustable.storage.types import UtcDateTime

# Kinds that several customers may claim (the partial unique index leaves them out).
SHARED_KINDS_EXCLUDED = "kind NOT IN ('email', 'phone')"

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
    # How the identifier came to be vouched for: "source" (sent by a trusted server
    # key) or "proof" (the customer proved control of the address); NULL when only a
    # public key claimed it. Only a vouched email or phone is a contact.
    Column("verified_by", String(16), nullable=True),
    Column("verified_at", UtcDateTime(), nullable=True),
    # The history the identifier first belonged to, once it was joined into another
    # customer's (NULL: its own customer's): what undoing a join gives back.
    Column("history", String(32), nullable=True),
    # Blind index first: as selective as a key, so every look-up is one probe whatever
    # the planner's statistics say (migration data_0021).
    Index("ix_identifiers_blind_index_kind", "blind_index", "kind"),
    # An id names one customer; an address may be claimed by several.
    Index(
        "uq_identifiers_kind_blind_index",
        "kind",
        "blind_index",
        unique=True,
        sqlite_where=text(SHARED_KINDS_EXCLUDED),
        postgresql_where=text(SHARED_KINDS_EXCLUDED),
    ),
    UniqueConstraint("customer_id", "kind", "blind_index"),
)

# One row per join of two histories, so a privacy officer can undo it.
merges = Table(
    "merges",
    data_metadata,
    Column("merge_id", String(32), primary_key=True),  # mrg_…, random
    Column("customer_id", String(32), nullable=False, index=True),  # the survivor
    Column("absorbed", String(32), nullable=False, index=True),
    Column("merged_at", UtcDateTime(), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("undone_at", UtcDateTime(), nullable=True),
    Column("undone_by", String(64), nullable=True),
)
