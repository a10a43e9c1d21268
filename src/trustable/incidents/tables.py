"""Incidents, their timeline and the customers each one affects.

An incident row holds what the privacy team knows about a breach: no customer's
value. `incident_customers` is per customer (the computed affected set and the state
of each notice) and is erased with the customer; the incident's totals stay.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from trustable.storage.metadata import data_metadata
from trustable.storage.types import UtcDateTime

incidents = Table(
    "incidents",
    data_metadata,
    Column("incident_id", String(32), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("discovered_at", UtcDateTime(), nullable=False),
    Column("window_start", UtcDateTime(), nullable=False),
    Column("window_end", UtcDateTime(), nullable=False),
    Column("store", String(16), nullable=False),  # data_store | key_store | destination | backup
    Column("destination", String(64), nullable=True),
    Column("categories", Text, nullable=False),  # space-separated category keys
    Column("exposed", String(16), nullable=False),  # ciphertext | keys | both | cleartext
    Column("risk", String(8), nullable=False),  # low | high
    # recorded -> approved -> notified
    Column("status", String(16), nullable=False),
    Column("measures", Text, nullable=False),  # what the company did, in its own words
    Column("created_by", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("computed_at", UtcDateTime(), nullable=True),
    Column("people", Integer, nullable=False),
    Column("records", BigInteger, nullable=False),
    # {category: people} of the affected set, JSON: what the report's figures come from
    Column("by_category", Text, nullable=False),
    Column("approved_by", String(64), nullable=True),
    Column("approved_at", UtcDateTime(), nullable=True),
    Column("report_submitted_at", UtcDateTime(), nullable=True),
    Column("report_submitted_by", String(64), nullable=True),
    Column("delay_reason", Text, nullable=True),
)

# Every step, in order; each has its ledger entry (kind `incident` or `incident_notice`).
incident_steps = Table(
    "incident_steps",
    data_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("incident_id", String(32), nullable=False, index=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("step", String(32), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("detail", Text, nullable=False),  # JSON: counts and states, never a value
    Column("ledger_index", BigInteger, nullable=True),
)

incident_customers = Table(
    "incident_customers",
    data_metadata,
    Column("incident_id", String(32), nullable=False),
    Column("customer_id", String(32), nullable=False, index=True),
    Column("categories", Text, nullable=False),  # the incident's categories this customer had
    Column("records", Integer, nullable=False),
    # pending -> sent | no_email
    Column("notice", String(16), nullable=False),
    Column("notice_at", UtcDateTime(), nullable=True),
    PrimaryKeyConstraint("incident_id", "customer_id"),
)
