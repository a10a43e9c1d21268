"""The privacy team's console accounts.

Not a per-customer table: it holds the company's own staff, so it carries no
`customer_id` and lives whole on one node of a sharded store. The username is
staff data, kept here and nowhere else: the ledger names a console user by the
random `user_id` alone, and rows are disabled rather than deleted, so every entry
that names an id can still be read against this table.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Integer, String, Table

from trustable.storage.metadata import data_metadata
from trustable.storage.types import UtcDateTime

console_users = Table(
    "console_users",
    data_metadata,
    Column("user_id", String(32), primary_key=True),  # usr_…, random (core.ids)
    # Lower-cased when stored, so "Ada" and "ada" cannot be two accounts.
    Column("username", String(64), nullable=False, unique=True),
    # Argon2id in PHC form ($argon2id$v=19$m=…,t=…,p=…$salt$hash): the parameters
    # travel with the hash, so raising them rehashes each user at their next sign-in.
    Column("password_hash", String(255), nullable=False),
    Column("role", String(32), nullable=False),  # admin | privacy_officer | analyst | support
    Column("created_at", UtcDateTime(), nullable=False),
    Column("disabled", Boolean, nullable=False),
    # Wrong passwords since the last sign-in or lock; at the limit the account locks.
    Column("failed_attempts", Integer, nullable=False),
    Column("locked_until", UtcDateTime(), nullable=True),
    Column("last_sign_in_at", UtcDateTime(), nullable=True),
    # A console session opened before this moment is no longer valid.
    Column("password_changed_at", UtcDateTime(), nullable=False),
)
