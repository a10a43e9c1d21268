"""Console users (the privacy team's accounts), and consent records found by time.

The index on `consent_records.recorded_at` (with purpose and status beside it) lets
the trust dashboard count decisions per purpose and day over a range from the index
alone, instead of reading the whole history.

Revision ID: data_0006
Revises: data_0005
Create Date: 2026-11-23 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "data_0006"
down_revision = "data_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_console_users")),
        sa.UniqueConstraint("username", name=op.f("uq_console_users_username")),
    )
    op.create_index(
        "ix_consent_records_recorded", "consent_records", ["recorded_at", "purpose", "status"]
    )


def downgrade() -> None:
    op.drop_index("ix_consent_records_recorded", table_name="consent_records")
    op.drop_table("console_users")
