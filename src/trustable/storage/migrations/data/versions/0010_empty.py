"""Empty: a revision released before the analytics tables existed.

Stores stamped at it got nothing from it, so the analytics tables come in data_0013;
this one stays, empty, so those stores upgrade from where they are.

Revision ID: data_0010
Revises: data_0009
Create Date: 2026-12-02 22:00:00
"""

from __future__ import annotations

revision = "data_0010"
down_revision = "data_0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
