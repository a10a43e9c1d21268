"""Identity a public key cannot hijack: vouched identifiers, shared addresses, joins
that can be undone, keys that expire.

Every email and phone already stored stays a *claim* (`verified_by` NULL): nothing a
public key sent before becomes a contact on upgrade. `trustable db upgrade` says how
many await verification, and docs/identity.md how they are promoted.

Revision ID: data_0014
Revises: data_0013
Create Date: 2026-12-04 15:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "data_0014"
down_revision = "data_0013"
branch_labels = None
depends_on = None

_IDS_ONLY = "kind NOT IN ('email', 'phone')"


def upgrade() -> None:
    with op.batch_alter_table("identifiers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verified_by", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("history", sa.String(length=32), nullable=True))
        batch_op.drop_constraint("uq_identifiers_kind_blind_index", type_="unique")
        batch_op.create_unique_constraint(
            "uq_identifiers_customer_id_kind_blind_index", ["customer_id", "kind", "blind_index"]
        )
    op.create_index("ix_identifiers_kind_blind_index", "identifiers", ["kind", "blind_index"])
    op.create_index(
        "uq_identifiers_kind_blind_index",
        "identifiers",
        ["kind", "blind_index"],
        unique=True,
        sqlite_where=sa.text(_IDS_ONLY),
        postgresql_where=sa.text(_IDS_ONLY),
    )
    op.create_table(
        "merges",
        sa.Column("merge_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("absorbed", sa.String(length=32), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("merge_id", name=op.f("pk_merges")),
    )
    op.create_index("ix_merges_customer_id", "merges", ["customer_id"])
    op.create_index("ix_merges_absorbed", "merges", ["absorbed"])
    for table in ("events", "traits", "consent_records", "ledger_entries"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("history", sa.String(length=32), nullable=True))
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("expires_at")
    for table in ("ledger_entries", "consent_records", "traits", "events"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("history")
    op.drop_index("ix_merges_absorbed", table_name="merges")
    op.drop_index("ix_merges_customer_id", table_name="merges")
    op.drop_table("merges")
    op.drop_index("uq_identifiers_kind_blind_index", table_name="identifiers")
    op.drop_index("ix_identifiers_kind_blind_index", table_name="identifiers")
    with op.batch_alter_table("identifiers", schema=None) as batch_op:
        batch_op.drop_constraint("uq_identifiers_customer_id_kind_blind_index", type_="unique")
        batch_op.create_unique_constraint(
            "uq_identifiers_kind_blind_index", ["kind", "blind_index"]
        )
        batch_op.drop_column("history")
        batch_op.drop_column("verified_at")
        batch_op.drop_column("verified_by")
