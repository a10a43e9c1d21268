"""Aggregates: each analyst's privacy budget spent.

Revision ID: data_0013
Revises: data_0012
Create Date: 2026-12-03 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "data_0013"
down_revision = "data_0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_budgets",
        sa.Column("analyst", sa.String(length=40), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("spent", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("analyst", "period", name=op.f("pk_analytics_budgets")),
    )
    op.create_table(
        "analytics_spends",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("analyst", sa.String(length=40), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("spent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_spends")),
    )
    op.create_index("ix_analytics_spends_analyst_period", "analytics_spends", ["analyst", "period"])
    op.create_table(
        "analytics_answers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("analyst", sa.String(length=40), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=160), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_answers")),
    )
    op.create_index(
        "ix_analytics_answers_analyst_period",
        "analytics_answers",
        ["analyst", "period", "kind"],
    )


def downgrade() -> None:
    op.drop_index("ix_analytics_answers_analyst_period", table_name="analytics_answers")
    op.drop_table("analytics_answers")
    op.drop_index("ix_analytics_spends_analyst_period", table_name="analytics_spends")
    op.drop_table("analytics_spends")
    op.drop_table("analytics_budgets")
