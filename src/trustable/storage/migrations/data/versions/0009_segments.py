"""Segments: rules declared in the policy and who is in them.

Revision ID: data_0009
Revises: data_0008
Create Date: 2026-12-02 22:00:00
"""

from __future__ import annotations

revision = "data_0009"
down_revision = "data_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
