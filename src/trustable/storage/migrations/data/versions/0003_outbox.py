"""The destinations' outbox.

Revision ID: data_0003
Revises: data_0002
Create Date: 2026-11-23 04:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "data_0003"
down_revision = "data_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("idempotency_key", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_idempotency_key")),
    )
    op.create_index("ix_outbox_customer_id", "outbox", ["customer_id"])
    op.create_index("ix_outbox_due", "outbox", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_index("ix_outbox_customer_id", table_name="outbox")
    op.drop_table("outbox")
