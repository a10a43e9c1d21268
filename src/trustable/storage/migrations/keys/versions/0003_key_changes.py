"""The log of destroyed data keys that other processes follow to drop their copies.

Revision ID: keys_0003
Revises: keys_0002
Create Date: 2026-12-04 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "keys_0003"
down_revision = "keys_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_changes",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_key_changes")),
    )
    op.create_index(op.f("ix_key_changes_changed_at"), "key_changes", ["changed_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_key_changes_changed_at"), table_name="key_changes")
    op.drop_table("key_changes")
