"""The identifiers' look-up index leads with the blind index.

Collection looks identifiers up by blind index (`blind_index = ANY(…) AND kind =
ANY(…)`). With `kind` first, PostgreSQL planned the look-up from `kind` alone
whenever its statistics were stale (a table that grew since its last ANALYZE: a busy
store between autovacuum rounds) and filtered every identifier of those kinds, so
each batch cost grew with the number of customers. A blind index is an HMAC of its
kind and value, as selective as a key: leading with it, every look-up is one probe
per identifier whatever the statistics say. The partial unique index on
(kind, blind_index) still guarantees that an id names one customer.

Revision ID: data_0021
Revises: data_0020
Create Date: 2026-12-05 01:55:00
"""

from __future__ import annotations

from alembic import op

revision = "data_0021"
down_revision = "data_0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_identifiers_kind_blind_index", table_name="identifiers")
    op.create_index(
        "ix_identifiers_blind_index_kind", "identifiers", ["blind_index", "kind"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_identifiers_blind_index_kind", table_name="identifiers")
    op.create_index(
        "ix_identifiers_kind_blind_index", "identifiers", ["kind", "blind_index"], unique=False
    )
