"""API keys, stored as SHA-256 of their secret part: the key itself is shown once."""

from __future__ import annotations

from sqlalchemy import Column, String, Table, Text

from trustable.storage.metadata import data_metadata
from trustable.storage.types import UtcDateTime

api_keys = Table(
    "api_keys",
    data_metadata,
    Column("key_id", String(32), primary_key=True),
    Column("name", String(120), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("scopes", Text, nullable=False),  # space-separated
    Column("created_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime(), nullable=True),
    Column("expires_at", UtcDateTime(), nullable=True),  # refused from then on
    # Written at most once a minute per key, so collection does not write per request.
    Column("last_used_at", UtcDateTime(), nullable=True),
)
