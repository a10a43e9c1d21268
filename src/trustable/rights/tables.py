"""Data-subject requests and their one-time verification codes.

A request row holds no personal value in clear: what a rectification will write is
sealed under the customer's key (`sealed`), and a code or a request token is kept
only as a keyed hash.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, LargeBinary, String, Table, Text

from trustable.storage.metadata import data_metadata
from trustable.storage.types import UtcDateTime

rights_requests = Table(
    "rights_requests",
    data_metadata,
    Column("request_id", String(32), primary_key=True),
    # None while the request names no known customer (an unknown email address).
    Column("customer_id", String(32), nullable=True, index=True),
    Column("kind", String(16), nullable=False),
    # received -> verified -> processing -> done | refused
    Column("state", String(16), nullable=False),
    Column("channel", String(16), nullable=False),  # api | email | portal | sign_in
    Column("jurisdiction", String(8), nullable=True),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("verified_at", UtcDateTime(), nullable=True),
    Column("completed_at", UtcDateTime(), nullable=True),
    Column("refusal", String(500), nullable=True),
    # What the request is about, without values: purposes objected to, the trait or
    # identifier kind to correct, counts of what an erasure removed.
    Column("detail", Text, nullable=False),
    Column("sealed", LargeBinary, nullable=True),
    Column("token_hash", String(64), nullable=True, unique=True),
    Column("token_expires_at", UtcDateTime(), nullable=True),
    Index("ix_rights_requests_state_due", "state", "due_at"),
)

verification_codes = Table(
    "verification_codes",
    data_metadata,
    Column("request_id", String(32), primary_key=True),
    Column("customer_id", String(32), nullable=True, index=True),
    # Keyed hash of the address the code went to: how sends per address are counted.
    Column("address_index", String(64), nullable=False, index=True),
    Column("code_hash", String(64), nullable=False),
    Column("sent_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("used_at", UtcDateTime(), nullable=True),
)
