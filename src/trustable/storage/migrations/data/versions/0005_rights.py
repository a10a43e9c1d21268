"""Customers' rights: requests, verification codes, restrictions, destination notices.

Revision ID: data_0005
Revises: data_0004
Create Date: 2026-11-23 06:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "data_0005"
down_revision = "data_0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Erasure finds the customers once joined into the one it erases by this column.
    op.create_index("ix_customers_merged_into", "customers", ["merged_into"])
    op.create_table(
        "rights_requests",
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("jurisdiction", sa.String(length=8), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refusal", sa.String(length=500), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_rights_requests")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_rights_requests_token_hash")),
    )
    op.create_index("ix_rights_requests_customer_id", "rights_requests", ["customer_id"])
    op.create_index("ix_rights_requests_state_due", "rights_requests", ["state", "due_at"])
    op.create_table(
        "verification_codes",
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("address_index", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_verification_codes")),
    )
    op.create_index("ix_verification_codes_customer_id", "verification_codes", ["customer_id"])
    op.create_index("ix_verification_codes_address_index", "verification_codes", ["address_index"])
    op.create_table(
        "restrictions",
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_restrictions")),
    )
    op.create_table(
        "destination_notices",
        sa.Column("id", _ID, nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("fields", sa.String(length=500), nullable=False),
        sa.Column("idempotency_key", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_destination_notices")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_destination_notices_idempotency_key")),
    )
    op.create_index("ix_destination_notices_request_id", "destination_notices", ["request_id"])
    op.create_index(
        "ix_destination_notices_due", "destination_notices", ["state", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_table("destination_notices")
    op.drop_table("restrictions")
    op.drop_table("verification_codes")
    op.drop_table("rights_requests")
    op.drop_index("ix_customers_merged_into", table_name="customers")
