"""The privacy team's console accounts, and the counts that slow guessing at them.

Neither is a per-customer table: they hold the company's own staff and whoever tries
to sign in, so they carry no `customer_id` and live whole on one node of a sharded
store. The username is staff data, kept here and nowhere else: the ledger names a
console user by the random `user_id` alone, and rows are disabled rather than
deleted, so every entry that names an id can still be read against this table.
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
    Column("last_sign_in_at", UtcDateTime(), nullable=True),
    # A console session opened before this moment is no longer valid.
    Column("password_changed_at", UtcDateTime(), nullable=False),
)

# Failed console sign-ins, counted per (username, client address) and per client
# address, never per account: a count that only the owner's own attempts can raise
# is one a stranger cannot use to lock the owner out (`users.throttle`). A row names
# what it counts by a keyed hash (the vault's blind-index key), never in clear: what
# was typed as a username (sometimes a password, typed in the wrong box) and where
# from are not kept.
sign_in_failures = Table(
    "sign_in_failures",
    data_metadata,
    Column("key", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),  # since `counting_since`
    Column("counting_since", UtcDateTime(), nullable=False),
    Column("blocked_until", UtcDateTime(), nullable=True),
)
