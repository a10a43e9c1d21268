"""The transparency ledger: entries, stored subtrees, tree size and signed heads.

Revision ID: data_0002
Revises: data_0001
Create Date: 2026-11-23 02:57:41
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "data_0002"
down_revision = "data_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column(
            "idx",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("idx", name=op.f("pk_ledger_entries")),
    )
    op.create_index("ix_ledger_entries_customer", "ledger_entries", ["customer_id", "idx"])
    op.create_table(
        "ledger_heads",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_ledger_heads")),
    )
    op.create_table(
        "ledger_nodes",
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_ledger_nodes")),
        sqlite_with_rowid=False,
    )
    state = op.create_table(
        "ledger_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_state")),
    )
    op.bulk_insert(state, [{"id": 1, "size": 0, "frontier": b""}])


def downgrade() -> None:
    op.drop_table("ledger_state")
    op.drop_table("ledger_nodes")
    op.drop_table("ledger_heads")
    op.drop_index("ix_ledger_entries_customer", table_name="ledger_entries")
    op.drop_table("ledger_entries")
