"""Key-store tables. They live in the key store, never in the data store."""

from __future__ import annotations

from sqlalchemy import Column, LargeBinary, String, Table

from trustable.storage.metadata import keys_metadata
from trustable.storage.types import UtcDateTime

# Store-wide secrets (the blind-index key, the master-key check), each wrapped.
vault_secrets = Table(
    "vault_secrets",
    keys_metadata,
    Column("name", String(64), primary_key=True),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# One AES-256 data key per customer, wrapped (AES-GCM) by the master key with the
# customer id as associated data, so a wrapped key cannot be moved to another row.
customer_keys = Table(
    "customer_keys",
    keys_metadata,
    Column("customer_id", String(32), primary_key=True),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)
