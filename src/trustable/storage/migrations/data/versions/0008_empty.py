"""Empty: a revision released before the incidents tables existed.

Stores stamped at it got nothing from it, so the incidents tables come in data_0011;
this one stays, empty, so those stores upgrade from where they are.

Revision ID: data_0008
Revises: data_0007
Create Date: 2026-12-02 22:00:00
"""

from __future__ import annotations

revision = "data_0008"
down_revision = "data_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
