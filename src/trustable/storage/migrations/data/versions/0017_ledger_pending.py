"""Ledger records wait as pending until the sequencer gives them their indices.

Collection, reads and shares no longer append to the tree inside their own
transaction (which made every writer queue on the tree's right edge): they write a
pending record, and one sequencer at a time moves pending records into
`ledger_entries` in batches (ledger.sequencer). `body` is the canonical entry
without its index; `recorded_at` is when the record was made, for the maximum
merge delay.

Revision ID: data_0017
Revises: data_0016
Create Date: 2026-12-04 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "data_0017"
down_revision = "data_0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_pending",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("history", sa.String(length=32), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_pending")),
    )
    op.create_index("ix_ledger_pending_customer", "ledger_pending", ["customer_id"])


def downgrade() -> None:
    # Pending records would be lost: a downgrade first needs `trustable ledger sequence`.
    op.drop_index("ix_ledger_pending_customer", table_name="ledger_pending")
    op.drop_table("ledger_pending")
