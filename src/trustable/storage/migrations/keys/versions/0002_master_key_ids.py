"""Which master key wraps each key-store row, so a rotation can be resumed.

Revision ID: keys_0002
Revises: keys_0001
Create Date: 2026-11-24 09:00:00

The column starts out NULL: a migration does not hold the master key, so it cannot
tell which key wraps the existing rows. The vault fills it in with the id of the key
that opens the store, the first time it is opened after this migration.

Downgrading drops the ids: do not downgrade while a rotation is under way, or rows
already moved to the new key can no longer be told apart from the others.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "keys_0002"
down_revision = "keys_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customer_keys") as batch:
        batch.add_column(sa.Column("master_id", sa.String(length=16), nullable=True))
    with op.batch_alter_table("vault_secrets") as batch:
        batch.add_column(sa.Column("master_id", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("vault_secrets") as batch:
        batch.drop_column("master_id")
    with op.batch_alter_table("customer_keys") as batch:
        batch.drop_column("master_id")
