"""Incidents: what was exposed, who is affected, notices and the regulator's report.

Revision ID: data_0011
Revises: data_0010
Create Date: 2026-12-03 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "data_0011"
down_revision = "data_0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = sa.DateTime(timezone=True)
    op.create_table(
        "incidents",
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("discovered_at", when, nullable=False),
        sa.Column("window_start", when, nullable=False),
        sa.Column("window_end", when, nullable=False),
        sa.Column("store", sa.String(length=16), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=True),
        sa.Column("categories", sa.Text(), nullable=False),
        sa.Column("exposed", sa.String(length=16), nullable=False),
        sa.Column("risk", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("measures", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("computed_at", when, nullable=True),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("by_category", sa.Text(), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("approved_at", when, nullable=True),
        sa.Column("report_submitted_at", when, nullable=True),
        sa.Column("report_submitted_by", sa.String(length=64), nullable=True),
        sa.Column("delay_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incidents")),
    )
    op.create_table(
        "incident_steps",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("at", when, nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_steps")),
    )
    op.create_index("ix_incident_steps_incident_id", "incident_steps", ["incident_id"])
    op.create_table(
        "incident_customers",
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("categories", sa.Text(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("notice", sa.String(length=16), nullable=False),
        sa.Column("notice_at", when, nullable=True),
        sa.PrimaryKeyConstraint("incident_id", "customer_id", name=op.f("pk_incident_customers")),
    )
    op.create_index("ix_incident_customers_customer_id", "incident_customers", ["customer_id"])


def downgrade() -> None:
    op.drop_table("incident_customers")
    op.drop_table("incident_steps")
    op.drop_table("incidents")
