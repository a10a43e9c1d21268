"""One-time sign-in links to the portal, kept only as keyed hashes."""

from __future__ import annotations

from sqlalchemy import Column, String, Table

from trustable.storage.metadata import data_metadata
from trustable.storage.types import UtcDateTime

portal_links = Table(
    "portal_links",
    data_metadata,
    Column("link_hash", String(64), primary_key=True),
    Column("customer_id", String(32), nullable=False, index=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("used_at", UtcDateTime(), nullable=True),
    Column("issued_by", String(32), nullable=False),  # the key id that asked for it
)
