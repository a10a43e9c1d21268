"""Console sign-in throttled per (username, address) and per address, not per account.

Accounts no longer lock: a lock anyone could trigger with a username was a way to
keep its owner out. `failed_attempts` and `locked_until` go from `console_users`;
`sign_in_failures` counts failures by a keyed hash of what was tried and from where
(`users.throttle`).

Revision ID: data_0015
Revises: data_0014
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "data_0015"
down_revision = "data_0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("counting_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sign_in_failures")),
    )
    with op.batch_alter_table("console_users", schema=None) as batch_op:
        batch_op.drop_column("failed_attempts")
        batch_op.drop_column("locked_until")


def downgrade() -> None:
    with op.batch_alter_table("console_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("failed_attempts", sa.Integer(), nullable=False, server_default="0")
        )
    op.drop_table("sign_in_failures")
