"""Key-store tables. They live in the key store, never in the data store."""

from __future__ import annotations

from sqlalchemy import Column, LargeBinary, String, Table

from trustable.storage.changes import change_table
from trustable.storage.metadata import keys_metadata
from trustable.storage.types import UtcDateTime

# `master_id` on both tables: the public id (`vault.master.master_id`) of the master
# key that wraps the row, so that while a rotation is under way each row says which
# of the two keys opens it. Rows written before ids existed hold NULL until the
# store is next opened, which fills in the id of the key that opened it.

# Store-wide secrets (the master-key check, the blind-index key, the ledger signing
# key, destination secrets), each wrapped with `secret:<name>` as associated data.
vault_secrets = Table(
    "vault_secrets",
    keys_metadata,
    Column("name", String(64), primary_key=True),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("master_id", String(16), nullable=True),
)

# One AES-256 data key per customer, wrapped (AES-GCM) by the master key with the
# customer id as associated data, so a wrapped key cannot be moved to another row.
customer_keys = Table(
    "customer_keys",
    keys_metadata,
    Column("customer_id", String(32), primary_key=True),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("master_id", String(16), nullable=True),
)

# Customers whose data key was destroyed, in commit order, for the other processes
# that share this key store: each drops its opened copy of the key within
# `vault.service.KEY_CHANGES_EVERY` seconds (`storage.changes`). Rows name only the
# opaque customer id and are pruned after `storage.changes.KEPT`.
key_changes = change_table("key_changes", keys_metadata)
