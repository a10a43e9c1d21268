"""Events found by (customer, message id): deliveries, corrections and erasure name one.

Revision ID: data_0004
Revises: data_0003
Create Date: 2026-11-23 05:20:00
"""

from __future__ import annotations

from alembic import op

revision = "data_0004"
down_revision = "data_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_customer_message", "events", ["customer_id", "message_id"])


def downgrade() -> None:
    op.drop_index("ix_events_customer_message", table_name="events")
