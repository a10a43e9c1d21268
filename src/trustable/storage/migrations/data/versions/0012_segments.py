"""Segments: rules declared in the policy and who is in them.

Revision ID: data_0012
Revises: data_0011
Create Date: 2026-12-03 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "data_0012"
down_revision = "data_0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "segment_hits",
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("segment", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "customer_id", "segment", "message_id", name=op.f("pk_segment_hits")
        ),
    )
    op.create_index("ix_segment_hits_segment_occurred", "segment_hits", ["segment", "occurred_at"])
    op.create_table(
        "segment_members",
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("segment", sa.String(length=64), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "segment", name=op.f("pk_segment_members")),
    )
    op.create_index("ix_segment_members_segment", "segment_members", ["segment"])


def downgrade() -> None:
    op.drop_table("segment_members")
    op.drop_table("segment_hits")
